package dev.concurry.worker;

import java.time.Duration;

/**
 * A call to a {@link Mode#PROCESS} worker ran longer than the pool's
 * {@link PoolOptions#callTimeout(Duration) callTimeout}: the call failed and its child JVM was killed,
 * so the pool starts a fresh one for later calls. A {@link WorkerDiedException}, because the worker's
 * state died with its child (the calls queued for it fail too).
 *
 * <pre>{@code
 * try {
 *     pool.call(w -> w.parse(file));
 * } catch (CallTimeoutException e) {
 *     log.warn("parsing {} took longer than {}: worker process {} killed", file, e.timeout(), e.pid());
 * }
 * }</pre>
 */
public class CallTimeoutException extends WorkerDiedException {
    private static final long serialVersionUID = 1L;
    private final Duration timeout;

    /**
     * @param pid      the killed child's process id
     * @param exitCode its exit code, or -1 when unknown
     * @param timeout  the call timeout that passed
     * @param message  the whole message
     */
    public CallTimeoutException(long pid, int exitCode, Duration timeout, String message) {
        super(pid, exitCode, message);
        this.timeout = timeout;
    }

    /** The call timeout that passed. */
    public Duration timeout() {
        return timeout;
    }
}
