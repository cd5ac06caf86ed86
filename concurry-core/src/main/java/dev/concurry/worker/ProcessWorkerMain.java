package dev.concurry.worker;

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

/**
 * The main class of a {@link Mode#PROCESS} worker's child JVM (SPEC W8), started by
 * {@link ChildProcess} with the parent's {@code java} and class path. It reads requests from stdin
 * and writes responses to stdout ({@link ProcessProtocol}); {@code System.out} is pointed at stderr
 * first, so user prints never corrupt the pipe (the parent copies the child's stderr to its own).
 *
 * <p>The main thread reads requests; the {@link HostedWorker} runs calls one at a time, in arrival
 * order. A CANCEL removes a queued call or interrupts the running one. EXIT lets queued calls finish,
 * then exits; the end of stdin (the parent died or destroyed the pipe) exits at once, so a child never
 * outlives its parent for long.
 */
final class ProcessWorkerMain {
    private final DataInputStream in;
    private final ProcessProtocol.FrameWriter out;

    private ProcessWorkerMain(DataInputStream in, DataOutputStream out) {
        this.in = in;
        this.out = new ProcessProtocol.FrameWriter(out);
    }

    public static void main(String[] args) {
        PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
        System.setOut(System.err);
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(protocol, 1 << 16));
        DataInputStream in = new DataInputStream(
                new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16));
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
        HostedWorker hosted;
        try {
            hosted = HostedWorker.open(init.payload(), "concurry-process-worker");
        } catch (Throwable t) {
            send(ProcessProtocol.INIT_FAILED, 0, HostedWorker.failurePayload(t));
            return 2;
        }
        send(ProcessProtocol.READY, ProcessHandle.current().pid(), new byte[0]);
        HostedWorker.Responder responder = (type, id, payload) -> {
            try {
                send(type, id, payload);
            } catch (IOException e) {
                Runtime.getRuntime().halt(0); // the pipe is gone: the parent is gone
            }
        };
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
                    case ProcessProtocol.CALL -> hosted.submit(frame.id(), frame.payload(), responder);
                    case ProcessProtocol.CANCEL -> hosted.cancel(frame.id());
                    case ProcessProtocol.EXIT -> {
                        hosted.finish(); // every frame is flushed as it is sent
                        return 0;
                    }
                    default -> throw new IOException("unexpected frame type " + frame.type());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            hosted.close();
        }
    }

    private void send(byte type, long id, byte[] payload) throws IOException {
        out.send(type, id, payload);
    }
}
