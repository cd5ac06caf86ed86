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
    PROCESS,
    /**
     * Each worker lives on a member of a cluster given with {@link PoolOptions#cluster(WorkerCluster)}
     * (SPEC W2), as a Ray actor does: its instance, built there by the serializable factory, keeps its state
     * between calls. Workers are spread evenly over the members; calls on one worker run one at a time, in
     * order, with the serialization and filtering of {@link #PROCESS}. A member that leaves fails its
     * workers' calls with {@link WorkerDiedException}; the worker is re-created on another member for the
     * next call (a call is never re-run by itself). Limits must be shared by the members; not available on
     * demand.
     */
    CLUSTER
}
