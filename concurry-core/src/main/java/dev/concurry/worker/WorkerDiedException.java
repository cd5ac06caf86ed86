package dev.concurry.worker;

/**
 * The child JVM of a {@link Mode#PROCESS} worker ended (crash, {@code kill -9}, out of memory,
 * {@code System.exit} in user code) while a call was running on it or waiting for it (SPEC W8). Every
 * such call fails at once with this exception; the pool starts a new child for later calls. Calls
 * that may be repeated safely can be retried with {@code retryOn(WorkerDiedException.class)}.
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
     * @param pid      the child's process id
     * @param exitCode its exit code, or -1 when unknown
     * @param message  the whole message
     */
    public WorkerDiedException(long pid, int exitCode, String message) {
        super(message);
        this.pid = pid;
        this.exitCode = exitCode;
    }

    /** The process id of the child that died. */
    public long pid() {
        return pid;
    }

    /** Its exit code (137 = killed by SIGKILL on Linux), or -1 when unknown. */
    public int exitCode() {
        return exitCode;
    }
}
