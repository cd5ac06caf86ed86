package dev.concurry.worker;

/**
 * Where a worker's calls run (SPEC W2). The same worker class runs unchanged in every mode.
 *
 * <pre>{@code
 * Worker.options(AiWorker.class).mode(Mode.VIRTUAL).init(AiWorker::new);
 * }</pre>
 */
public enum Mode {
    /** On the caller's thread; {@code submit} returns a completed future. For tests and debugging. */
    SYNC,
    /**
     * Each worker owns one platform thread; calls on one worker run one at a time, in submission
     * order, so worker state needs no locks.
     */
    THREAD,
    /** Each call on its own virtual thread; calls on one worker may overlap. */
    VIRTUAL,
    /**
     * Each worker in its own child JVM (SPEC W8), started with this JVM's {@code java} and class path;
     * the factory, the calls (serializable lambdas), results and exceptions cross a private pipe (the
     * child's stdin and stdout) as Java-serialized messages checked by a
     * {@linkplain PoolOptions#serializationFilter(String) filter}. Like {@link #THREAD}, calls on one
     * worker run one at a time, in order. A child that dies fails its calls with
     * {@link WorkerDiedException} and is replaced. Limits must span processes
     * ({@code Backends.sharedMemory}); not available on demand.
     */
    PROCESS
}
