package dev.concurry.worker;

import dev.concurry.worker.ProcessProtocol.Frame;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The parent's side of one child JVM (SPEC W8): starts it with the parent's {@code java} and class
 * path, writes requests to its stdin, and reads responses from its stdout on a reader thread that
 * completes the waiting call by id. Another thread copies the child's stderr (where its
 * {@code System.out} goes too) to this JVM's {@code System.err}, each line prefixed with the pid, and
 * keeps its last lines.
 *
 * <p>When the child's stdout ends (it exited, crashed or was killed), the reader collects its exit
 * code and completes every waiting call, and {@link #death()}, with the cause; nothing waits forever.
 * A child that cannot start says why in its own words (issue 17 E3): the JVM prints start-up errors
 * such as "Too small maximum heap" on stdout, which the reader then shows as text, and others on
 * stderr, whose last lines {@link #init} quotes.
 */
final class ChildProcess implements WorkerEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(ChildProcess.class);
    static final String MAIN_CLASS = "dev.concurry.worker.ProcessWorkerMain";
    /** How much of the child's last output a message quotes: lines, and characters per line or text. */
    private static final int TAIL_LINES = 10;
    private static final int TAIL_CHARS = 1000;

    private final Process process;
    private final long pid;
    private final String label;
    private final ProcessProtocol.FrameWriter out;
    private final DataInputStream in;
    private final PendingCalls pending = new PendingCalls();
    private final CompletableFuture<Frame> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> stderrEnded = new CompletableFuture<>();
    /** The child's last stderr lines; guarded by itself. */
    private final java.util.ArrayDeque<String> stderrTail = new java.util.ArrayDeque<>();
    private volatile boolean exitRequested;
    /** Why this side killed the child, for the death's message; null if it did not. */
    private volatile String killedBecause;

    private ChildProcess(Process process, String label) {
        this.process = process;
        this.pid = process.pid();
        this.label = label;
        this.out = new ProcessProtocol.FrameWriter(
                new DataOutputStream(new BufferedOutputStream(process.getOutputStream(), 1 << 16)));
        this.in = new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
    }

    /** Starts a child JVM (it boots in the background; {@link #init} waits for it). */
    static ChildProcess start(String poolName, int index, List<String> jvmOptions) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(javaCommand());
        command.addAll(jvmOptions);
        command.add(MAIN_CLASS);
        command.add(poolName);
        command.add(Integer.toString(index));
        ProcessBuilder builder = new ProcessBuilder(command);
        // The class path through the environment: no command-line length limit, and `ps` stays readable.
        builder.environment().put("CLASSPATH", System.getProperty("java.class.path"));
        builder.redirectInput(ProcessBuilder.Redirect.PIPE).redirectOutput(ProcessBuilder.Redirect.PIPE)
                .redirectError(ProcessBuilder.Redirect.PIPE);
        Process process = builder.start();
        ChildProcess child = new ChildProcess(process, "concurry-" + poolName + "-worker-" + index);
        child.startThreads();
        return child;
    }

    private static String javaCommand() {
        return ProcessHandle.current().info().command()
                .orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    private void startThreads() {
        Thread.ofPlatform().daemon(true).name(label + "-pipe-" + pid).start(this::readResponses);
        Thread.ofPlatform().daemon(true).name(label + "-stderr-" + pid).start(this::copyStderr);
    }

    long pid() {
        return pid;
    }

    boolean isAlive() {
        return !pending.death().isDone() && process.isAlive();
    }

    @Override
    public CompletableFuture<WorkerDeath> death() {
        return pending.death();
    }

    @Override
    public String describe() {
        return "worker process " + pid;
    }

    /**
     * Sends INIT ({@link RemoteLauncher#initPayload}) and waits for READY. A failing factory in the child
     * is rethrown here (see {@link RemoteLauncher#rethrowInitFailure}).
     */
    void init(byte[] initPayload, Duration timeout, ClassLoader loader, ProcessProtocol.Filter.Config filter)
            throws InterruptedException {
        try {
            send(ProcessProtocol.INIT, 0, initPayload);
        } catch (IOException e) {
            // the child died at once; the reader reports how below
        }
        CompletableFuture<Object> outcome = CompletableFuture.anyOf(ready, pending.death());
        Object done;
        try {
            done = outcome.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            destroy();
            throw new IllegalStateException("worker process " + pid + " did not start within " + timeout);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        if (done instanceof WorkerDeath d) {
            throw d.exception("before it was ready" + lastOutput());
        }
        Frame frame = (Frame) done;
        if (frame.type() == ProcessProtocol.INIT_FAILED) {
            Throwable failure = decodeFailure(frame.payload(), filter, loader, "the worker factory's failure");
            destroy();
            RemoteLauncher.rethrowInitFailure(failure, describe());
        }
    }

    static Throwable decodeFailure(byte[] payload, ProcessProtocol.Filter.Config filter, ClassLoader loader,
            String what) {
        if (payload.length == 0) {
            return new SerializationFailedException("the worker process could not send " + what
                    + " (it failed even to describe it; it may be out of memory)");
        }
        try {
            Object value = ProcessProtocol.deserialize(payload, filter, loader, what);
            return value instanceof Throwable t
                    ? t
                    : new SerializationFailedException(what + " is not an exception: " + value);
        } catch (SerializationFailedException e) {
            return e;
        } catch (IOException | ClassNotFoundException | RuntimeException e) {
            return new SerializationFailedException("cannot read " + what + ": " + e, e);
        }
    }

    /**
     * Sends a call; the returned future completes with its RESULT or FAILURE frame, or exceptionally
     * with {@link WorkerDiedException} if the child ends first.
     */
    @Override
    public CompletableFuture<Frame> call(long id, byte[] payload) {
        CompletableFuture<Frame> response = pending.open(id);
        if (response.isDone()) {
            return response;
        }
        try {
            send(ProcessProtocol.CALL, id, payload);
        } catch (IOException e) {
            // the pipe broke: the child is dying; the reader fails the call with how it ended
            LOG.debug("worker process {}: sending call #{} failed: {}", pid, id, e.toString());
        }
        return response;
    }

    @Override
    public void cancel(long id) {
        try {
            send(ProcessProtocol.CANCEL, id, new byte[0]);
        } catch (IOException e) {
            LOG.debug("worker process {}: sending cancel of #{} failed: {}", pid, id, e.toString());
        }
    }

    /** Asks the child to finish its queued calls and exit; it closes its stdin. Idempotent. */
    @Override
    public void askToExit() {
        if (exitRequested) {
            return;
        }
        exitRequested = true;
        try {
            send(ProcessProtocol.EXIT, 0, new byte[0]);
            out.close();
        } catch (IOException e) {
            LOG.debug("worker process {}: sending exit failed: {}", pid, e.toString());
        }
    }

    @Override
    public boolean awaitExit(long deadlineNanos) throws InterruptedException {
        long left = deadlineNanos - System.nanoTime();
        return left > 0 ? process.waitFor(left, TimeUnit.NANOSECONDS) : !process.isAlive();
    }

    /** Kills the process (SIGKILL) for {@code reason}, which its death's message gives, and waits for it to be gone. */
    void kill(String reason) {
        killedBecause = reason;
        destroy();
    }

    /** Kills the process (SIGKILL) and waits for it to be gone. */
    @Override
    public void destroy() {
        process.destroyForcibly();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                LOG.warn("worker process {} still alive 10 s after being killed", pid);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void send(byte type, long id, byte[] payload) throws IOException {
        out.send(type, id, payload);
    }

    private void readResponses() {
        String how;
        try {
            while (true) {
                Frame frame = ProcessProtocol.read(in);
                switch (frame.type()) {
                    case ProcessProtocol.READY, ProcessProtocol.INIT_FAILED -> ready.complete(frame);
                    case ProcessProtocol.RESULT, ProcessProtocol.FAILURE -> {
                        pending.answer(frame.id(), frame);
                    }
                    default -> throw new IOException("unexpected frame type " + frame.type());
                }
            }
        } catch (EOFException e) {
            how = null;
        } catch (ProcessProtocol.NotAFrameException e) {
            // Text where a frame should be: most likely the JVM's own start-up error, after which it exits.
            String text = textFrom(e.start);
            how = "wrote \"" + text + "\" to its stdout instead of the pipe protocol and "
                    + (process.isAlive() ? "was killed" : "exited with code " + process.exitValue());
            LOG.error("worker process {}: {}", pid, how);
            process.destroyForcibly();
        } catch (IOException e) {
            how = "broke the pipe protocol (" + e.getMessage() + ") and was killed";
            LOG.error("worker process {}: {}", pid, how);
            process.destroyForcibly();
        }
        int code = -1;
        try {
            if (process.waitFor(5, TimeUnit.SECONDS)) {
                code = process.exitValue();
            } else {
                process.destroyForcibly();
                how = how != null ? how : "closed its pipe and was killed";
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (how == null) {
            String reason = killedBecause;
            how = reason != null ? "was killed (" + reason + ")" : "exited with code " + code + describe(code);
        }
        WorkerDeath dead = new WorkerDeath(pid, code, describe() + " " + how);
        pending.die(dead);
        if (!exitRequested) {
            LOG.warn("{}: worker process {} {}", label, pid, how);
        }
    }

    private static String describe(int code) {
        if (code > 128 && code < 160) {
            return switch (code - 128) {
                case 9 -> " (killed by SIGKILL)";
                case 15 -> " (killed by SIGTERM)";
                case 6 -> " (aborted by SIGABRT)";
                case 11 -> " (crashed with SIGSEGV)";
                default -> " (signal " + (code - 128) + ")";
            };
        }
        return "";
    }

    private void copyStderr() {
        try (BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                Charset.defaultCharset()))) {
            String prefix = "[" + label + " pid " + pid + "] ";
            for (String line; (line = err.readLine()) != null;) {
                System.err.println(prefix + line);
                synchronized (stderrTail) {
                    if (stderrTail.size() == TAIL_LINES) {
                        stderrTail.removeFirst();
                    }
                    stderrTail.addLast(line.length() > TAIL_CHARS ? line.substring(0, TAIL_CHARS) + "..." : line);
                }
            }
        } catch (IOException e) {
            LOG.debug("worker process {}: stderr ended: {}", pid, e.toString());
        } finally {
            stderrEnded.complete(null);
        }
    }

    /**
     * What a child that never got ready last printed on stderr, for the exception's message: the JVM
     * reports bad options there. Waits a little for the copier to reach the end of the stream.
     */
    private String lastOutput() {
        try {
            stderrEnded.get(2, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            // quote what arrived so far
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (stderrTail) {
            return stderrTail.isEmpty() ? "" : "; its stderr ended with: " + String.join(" | ", stderrTail);
        }
    }

    /**
     * The text the child wrote where a frame should be: the four bytes read, then what follows, read
     * before the process is destroyed (which discards it). A child that exits (as the JVM does after a
     * start-up error) is read to the end; one that lives on, only for what it already wrote.
     */
    private String textFrom(int start) {
        byte[] first = {(byte) (start >>> 24), (byte) (start >>> 16), (byte) (start >>> 8), (byte) start};
        byte[] rest;
        try {
            boolean exited = process.waitFor(2, TimeUnit.SECONDS);
            rest = in.readNBytes(exited ? TAIL_CHARS : Math.min(TAIL_CHARS, in.available()));
        } catch (IOException e) {
            rest = new byte[0];
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            rest = new byte[0];
        }
        byte[] all = new byte[first.length + rest.length];
        System.arraycopy(first, 0, all, 0, first.length);
        System.arraycopy(rest, 0, all, first.length, rest.length);
        String text = new String(all, Charset.defaultCharset()).strip().replaceAll("\\s*\\R\\s*", " | ");
        return rest.length == TAIL_CHARS ? text + "..." : text;
    }
}
