package dev.concurry.worker;

/**
 * How a pool picks the worker for the next call (SPEC W4).
 *
 * <pre>{@code
 * Worker.options(AiWorker.class).mode(Mode.THREAD).maxWorkers(4)
 *         .loadBalancing(LoadBalancing.LEAST_ACTIVE).init(AiWorker::new);
 * }</pre>
 */
public enum LoadBalancing {
    /** Workers in turn: 0, 1, 2, 0, 1, 2... The default. */
    ROUND_ROBIN,
    /** The worker with the fewest calls in flight (queued or running); ties go to the lowest index. */
    LEAST_ACTIVE,
    /** The worker that has been given the fewest calls so far; ties go to the lowest index. */
    LEAST_TOTAL,
    /** A worker chosen uniformly at random. */
    RANDOM
}
