package dev.concurry.worker;

import dev.concurry.limit.Limiter;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.util.ArrayDeque;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A worker instance living away from its pool: in a {@link Mode#PROCESS} child JVM
 * ({@link ProcessWorkerMain}) or on a cluster member ({@link WorkerCluster#host}). Built from the INIT
 * payload ({@link RemoteLauncher#initPayload}); its calls arrive as serialized {@link WorkerCall}s and run
 * on one runner thread, one at a time, in arrival order, like a {@link Mode#THREAD} worker, so worker
 * state needs no locks. Each outcome goes to the {@link Responder} given with the call, as a
 * {@link ProcessProtocol#RESULT} or {@link ProcessProtocol#FAILURE} payload.
 *
 * <p>{@link #cancel} removes a queued call (answered with a {@link CancellationException}) or interrupts
 * the running one; the runner clears the interrupt before the next call. {@link #finish()} lets queued
 * calls run, then ends the runner; {@link #close()} also interrupts what still runs and closes the
 * worker's limiter.
 */
final class HostedWorker implements AutoCloseable {
    /** Where the outcome of a call goes. */
    @FunctionalInterface
    interface Responder {
        void respond(byte type, long id, byte[] payload);
    }

    private record Pending(long id, byte[] payload, Responder responder) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Guarded by lock. */
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private boolean exiting;
    private boolean closed;
    private long runningId = -1;
    /** The highest call id submitted so far (ids grow with each call a pool sends to this worker). */
    private long highestSubmitted = -1;
    /**
     * Calls cancelled before they arrived: on a cluster member a cancel travels apart from its call and may
     * overtake it, and the call must then not run. Bounded (oldest dropped); guarded by lock.
     */
    private final java.util.TreeSet<Long> cancelledEarly = new java.util.TreeSet<>();
    private static final int MAX_CANCELLED_EARLY = 1024;
    private final Thread runner;
    private final ProcessProtocol.Filter.Config filter;
    private final ClassLoader loader;
    private final Worker worker;
    private final ChildLimits limits;
    private final Limiter limiter;

    private HostedWorker(ChildInit spec, ChildLimits limits, Limiter limiter, Worker worker,
            ProcessProtocol.Filter.Config filter, ClassLoader loader, String threadName) {
        this.limits = limits;
        this.limiter = limiter;
        this.worker = worker;
        this.filter = filter;
        this.loader = loader;
        this.runner = Thread.ofPlatform().name(threadName + "-" + spec.index()).daemon(true).unstarted(this::runCalls);
    }

    /**
     * Builds the worker described by an INIT payload (worker type, filter pattern, serialized
     * {@link ChildInit}) and starts its runner thread. Whatever the factory throws is thrown here.
     */
    static HostedWorker open(byte[] initPayload, String threadName) throws Throwable {
        DataInputStream header = new DataInputStream(new ByteArrayInputStream(initPayload));
        String workerType = header.readUTF();
        String pattern = header.readUTF();
        byte[] body = header.readAllBytes();
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        if (loader == null) {
            loader = ClassLoader.getSystemClassLoader();
        }
        ProcessProtocol.Filter.Config filter = ProcessProtocol.Filter.Config.of(workerType, pattern);
        ChildInit spec = (ChildInit) ProcessProtocol.deserialize(body, filter, loader, "the worker factory");
        ChildLimits limits = spec.limits();
        Limiter limiter = limits.open();
        try {
            Worker created = spec.factory().get();
            if (created == null) {
                throw new IllegalStateException("the worker factory returned null");
            }
            created.bind(limiter);
            HostedWorker hosted = new HostedWorker(spec, limits, limiter, created, filter, loader, threadName);
            hosted.runner.start();
            return hosted;
        } catch (Throwable t) {
            limits.close(limiter);
            throw t;
        }
    }

    /** Queues call {@code id}; its outcome goes to {@code responder}, from the runner thread. */
    void submit(long id, byte[] payload, Responder responder) {
        lock.lock();
        try {
            if (exiting) {
                responder.respond(ProcessProtocol.FAILURE, id,
                        failurePayload(new IllegalStateException("the worker is shutting down")));
                return;
            }
            highestSubmitted = Math.max(highestSubmitted, id);
            if (!cancelledEarly.remove(id)) {
                queue.addLast(new Pending(id, payload, responder));
                changed.signalAll();
                return;
            }
        } finally {
            lock.unlock();
        }
        responder.respond(ProcessProtocol.FAILURE, id,
                failurePayload(new CancellationException("cancelled before it started")));
    }

    /** Removes call {@code id} if queued, or interrupts it if running; does nothing once it ended. */
    void cancel(long id) {
        Pending removed = null;
        lock.lock();
        try {
            if (runningId == id) {
                runner.interrupt(); // under the lock: the runner clears it under the same lock after the call
                return;
            }
            for (Pending pending : queue) {
                if (pending.id() == id) {
                    removed = pending;
                }
            }
            if (removed != null) {
                queue.remove(removed);
            } else if (id > highestSubmitted) {
                // Not here yet: the cancel overtook its call. Remember it, so that the call never runs.
                cancelledEarly.add(id);
                if (cancelledEarly.size() > MAX_CANCELLED_EARLY) {
                    cancelledEarly.pollFirst();
                }
            }
        } finally {
            lock.unlock();
        }
        if (removed != null) {
            removed.responder().respond(ProcessProtocol.FAILURE, id,
                    failurePayload(new CancellationException("cancelled before it started")));
        }
    }

    /** Lets the queued calls run, then ends the runner thread and waits for it. */
    void finish() throws InterruptedException {
        lock.lock();
        try {
            exiting = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        runner.join();
    }

    /** Ends the runner now (interrupting a running call, answering queued ones as cancelled) and closes the limiter. */
    @Override
    public void close() {
        java.util.List<Pending> dropped;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            exiting = true;
            dropped = java.util.List.copyOf(queue);
            queue.clear();
            if (runningId != -1) {
                runner.interrupt();
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        for (Pending pending : dropped) {
            pending.responder().respond(ProcessProtocol.FAILURE, pending.id(),
                    failurePayload(new CancellationException("the worker was closed before this call started")));
        }
        limits.close(limiter);
    }

    private void runCalls() {
        while (true) {
            Pending call;
            lock.lock();
            try {
                while (queue.isEmpty() && !exiting) {
                    changed.awaitUninterruptibly();
                }
                call = queue.pollFirst();
                if (call == null) {
                    return;
                }
                runningId = call.id();
            } finally {
                lock.unlock();
            }
            byte type;
            byte[] payload;
            try {
                Object value = run(call);
                try {
                    payload = ProcessProtocol.serialize(value);
                    type = ProcessProtocol.RESULT;
                } catch (Throwable e) {
                    type = ProcessProtocol.FAILURE;
                    payload = failurePayload(new SerializationFailedException("the result of class " + className(value)
                            + " cannot be sent back from the worker (" + e + "): " + describe(value)));
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
            call.responder().respond(type, call.id(), payload);
        }
    }

    @SuppressWarnings("unchecked")
    private Object run(Pending call) throws Exception {
        WorkerCall<Worker, ?> decoded = (WorkerCall<Worker, ?>) ProcessProtocol.deserialize(call.payload(), filter,
                loader, "call #" + call.id());
        return decoded.call(worker);
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
                        + className(failure) + ", which cannot be sent back from the worker (" + e + "): "
                        + describe(failure));
                substitute.setStackTrace(failure.getStackTrace());
                return ProcessProtocol.serialize(substitute);
            } catch (Throwable again) {
                try {
                    return ProcessProtocol.serialize(new SerializationFailedException("the call failed with "
                            + className(failure) + ", which the worker could neither send back nor describe ("
                            + className(e) + ", then " + className(again) + ")"));
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
}
