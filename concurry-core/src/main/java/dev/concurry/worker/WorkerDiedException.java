package dev.concurry.worker;

/**
 * A remote worker was lost while a call was running on it or waiting for it: the child JVM of a
 * {@link Mode#PROCESS} worker ended (crash, {@code kill -9}, out of memory, {@code System.exit} in user
 * code; SPEC W8), or the member hosting a {@link Mode#CLUSTER} worker left the cluster or could not be
 * reached (SPEC W2). Every such call fails at once with this exception; the pool starts a new worker for
 * later calls and never re-runs a call by itself. Calls that may be repeated safely can be retried with
 * {@code retryOn(WorkerDiedException.class)}.
 *
 * <pre>{@code
 * try {
 *     pool.call(w -> w.parse(hugeFile));
 * } catch (WorkerDiedException e) {
 *     log.warn("worker process {} died with exit code {}", e.pid(), e.exitCode());
 * }
 * }</pre>
 */
public class WorkerDiedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long pid;
    private final int exitCode;

    /**
     * @param pid      the child's process id, or -1 for a cluster worker
     * @param exitCode its exit code, or -1 when unknown
     * @param message  the whole message
     */
    public WorkerDiedException(long pid, int exitCode, String message) {
        super(message);
        this.pid = pid;
        this.exitCode = exitCode;
    }

    /** The process id of the child that died; -1 for a cluster worker (the message names its member). */
    public long pid() {
        return pid;
    }

    /** Its exit code (137 = killed by SIGKILL on Linux), or -1 when unknown. */
    public int exitCode() {
        return exitCode;
    }
}
