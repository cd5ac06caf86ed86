package dev.concurry.worker;

import dev.concurry.limit.Limiter;
import dev.concurry.worker.ProcessProtocol.Frame;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayDeque;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The main class of a {@link Mode#PROCESS} worker's child JVM (SPEC W8), started by
 * {@link ChildProcess} with the parent's {@code java} and class path. It reads requests from stdin
 * and writes responses to stdout ({@link ProcessProtocol}); {@code System.out} is pointed at stderr
 * first, so user prints never corrupt the pipe (the parent copies the child's stderr to its own).
 *
 * <p>The main thread reads requests; one runner thread runs calls one at a time, in arrival order,
 * like a {@link Mode#THREAD} worker, so worker state needs no locks. Every call is answered, even one
 * whose failure cannot be serialized or described ({@link #failurePayload} never throws), so the runner
 * never dies with a call unanswered. A CANCEL removes a queued call
 * or interrupts the running one. EXIT lets queued calls finish, then exits; the end of stdin (the
 * parent died or destroyed the pipe) exits at once, so a child never outlives its parent for long.
 */
final class ProcessWorkerMain {
    private final DataInputStream in;
    private final ProcessProtocol.FrameWriter out;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Guarded by lock. */
    private final ArrayDeque<Frame> queue = new ArrayDeque<>();
    private boolean exiting;
    private long runningId = -1;
    private Thread runner;
    private ProcessProtocol.Filter.Config filter;
    private ClassLoader loader;
    private Worker worker;

    private ProcessWorkerMain(DataInputStream in, DataOutputStream out) {
        this.in = in;
        this.out = new ProcessProtocol.FrameWriter(out);
    }

    public static void main(String[] args) {
        PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
        System.setOut(System.err);
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(protocol, 1 << 16));
        DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16));
        int code;
        try {
            code = new ProcessWorkerMain(in, out).serve();
        } catch (Throwable t) {
            System.err.println("concurry process worker " + ProcessHandle.current().pid() + ": " + t);
            t.printStackTrace();
            code = 3;
        }
        System.exit(code);
    }

    private int serve() throws IOException {
        Frame init;
        try {
            init = ProcessProtocol.read(in);
        } catch (EOFException e) {
            return 0;
        }
        if (init.type() != ProcessProtocol.INIT) {
            throw new IOException("expected INIT, got frame type " + init.type());
        }
        ChildInit spec;
        Limiter limiter;
        ChildLimits limits;
        try {
            DataInputStream header = new DataInputStream(new java.io.ByteArrayInputStream(init.payload()));
            String workerType = header.readUTF();
            String pattern = header.readUTF();
            byte[] body = header.readAllBytes();
            loader = Thread.currentThread().getContextClassLoader();
            if (loader == null) {
                loader = ClassLoader.getSystemClassLoader();
            }
            filter = ProcessProtocol.Filter.Config.of(workerType, pattern);
            spec = (ChildInit) ProcessProtocol.deserialize(body, filter, loader, "the worker factory");
            limits = spec.limits();
            limiter = limits.open();
            Worker created = spec.factory().get();
            if (created == null) {
                throw new IllegalStateException("the worker factory returned null");
            }
            created.bind(limiter);
            worker = created;
        } catch (Throwable t) {
            send(ProcessProtocol.INIT_FAILED, 0, failurePayload(t));
            return 2;
        }
        send(ProcessProtocol.READY, ProcessHandle.current().pid(), new byte[0]);
        runner = Thread.ofPlatform().name("concurry-process-worker-" + spec.index()).unstarted(this::runCalls);
        runner.start();
        try {
            while (true) {
                Frame frame;
                try {
                    frame = ProcessProtocol.read(in);
                } catch (EOFException e) {
                    Runtime.getRuntime().halt(0); // the parent is gone: nobody to answer to
                    return 0;
                }
                switch (frame.type()) {
                    case ProcessProtocol.CALL -> enqueue(frame);
                    case ProcessProtocol.CANCEL -> cancel(frame.id());
                    case ProcessProtocol.EXIT -> {
                        lock.lock();
                        try {
                            exiting = true;
                            changed.signalAll();
                        } finally {
                            lock.unlock();
                        }
                        runner.join();       // every frame is flushed as it is sent
                        return 0;
                    }
                    default -> throw new IOException("unexpected frame type " + frame.type());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            limits.close(limiter);
        }
    }

    private void enqueue(Frame frame) {
        lock.lock();
        try {
            queue.addLast(frame);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void cancel(long id) throws IOException {
        boolean removed = false;
        lock.lock();
        try {
            if (runningId == id) {
                runner.interrupt(); // under the lock: the runner clears it under the same lock after the call
                return;
            }
            removed = queue.removeIf(f -> f.id() == id);
        } finally {
            lock.unlock();
        }
        if (removed) {
            send(ProcessProtocol.FAILURE, id, failurePayload(new CancellationException("cancelled before it started")));
        }
    }

    private void runCalls() {
        while (true) {
            Frame frame;
            lock.lock();
            try {
                while (queue.isEmpty() && !exiting) {
                    changed.awaitUninterruptibly();
                }
                frame = queue.pollFirst();
                if (frame == null) {
                    return;
                }
                runningId = frame.id();
            } finally {
                lock.unlock();
            }
            byte type;
            byte[] payload;
            try {
                Object value = run(frame);
                try {
                    payload = ProcessProtocol.serialize(value);
                    type = ProcessProtocol.RESULT;
                } catch (Throwable e) {
                    type = ProcessProtocol.FAILURE;
                    payload = failurePayload(new SerializationFailedException("the result of class " + className(value)
                            + " cannot be sent back from the worker process (" + e + "): " + describe(value)));
                }
            } catch (Throwable t) {
                type = ProcessProtocol.FAILURE;
                payload = failurePayload(t);
            }
            lock.lock();
            try {
                runningId = -1;
                Thread.interrupted(); // a cancel meant for that call must not reach the next one
            } finally {
                lock.unlock();
            }
            try {
                send(type, frame.id(), payload);
            } catch (IOException e) {
                Runtime.getRuntime().halt(0); // the pipe is gone: the parent is gone
            }
        }
    }

    @SuppressWarnings("unchecked")
    private Object run(Frame frame) throws Exception {
        WorkerCall<Worker, ?> call = (WorkerCall<Worker, ?>) ProcessProtocol.deserialize(frame.payload(), filter,
                loader, "call #" + frame.id());
        return call.call(worker);
    }

    /**
     * The exception itself if it can be serialized, else a {@link SerializationFailedException} describing
     * it. Never throws, so that every call is answered and the runner lives on (issue 17 E2): the
     * failure's own code ({@code toString}, {@code getMessage}, {@code writeObject}) may throw anything,
     * even a {@link StackOverflowError} from a cyclic message; then the substitute names only classes.
     * As a last resort (out of memory) the payload is empty, which the parent reports as unreadable.
     */
    static byte[] failurePayload(Throwable failure) {
        try {
            return ProcessProtocol.serialize(failure);
        } catch (Throwable e) {
            try {
                SerializationFailedException substitute = new SerializationFailedException("the call failed with "
                        + className(failure) + ", which cannot be sent back from the worker process (" + e + "): "
                        + describe(failure));
                substitute.setStackTrace(failure.getStackTrace());
                return ProcessProtocol.serialize(substitute);
            } catch (Throwable again) {
                try {
                    return ProcessProtocol.serialize(new SerializationFailedException("the call failed with "
                            + className(failure) + ", which the worker process could neither send back nor"
                            + " describe (" + className(e) + ", then " + className(again) + ")"));
                } catch (Throwable last) {
                    return new byte[0];
                }
            }
        }
    }

    private static String className(Object value) {
        return value == null ? "null" : value.getClass().getName();
    }

    private static String describe(Object value) {
        try {
            String s = String.valueOf(value);
            return s.length() > 1000 ? s.substring(0, 1000) + "..." : s;
        } catch (RuntimeException | StackOverflowError e) {
            return "(toString failed: " + className(e) + ")";
        }
    }

    private void send(byte type, long id, byte[] payload) throws IOException {
        out.send(type, id, payload);
    }

}
