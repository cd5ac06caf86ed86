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
    /** Each worker in its own child JVM. Not available yet: {@code init()} refuses it. */
    PROCESS
}
