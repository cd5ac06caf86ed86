package dev.concurry.limit.spi;

/**
 * Attempts to decide together, in the order they queued (SPEC L12): the engine's waiters, oldest
 * first, and any {@code tryAcquire} that joined them. A store decides a batch atomically, as
 * {@link SetAlgorithms#decide} does.
 */
public interface Batch {

    /** How many attempts. */
    int size();

    /** The request of attempt {@code i}. */
    ResolvedRequest request(int i);

    /**
     * Whether attempt {@code i} is a {@code tryAcquire}: granted now or refused, never queued, so it
     * never blocks a later attempt.
     */
    boolean isTry(int i);
}
