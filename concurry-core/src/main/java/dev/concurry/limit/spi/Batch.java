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
     * An id of attempt {@code i}, unique among this set's attempts in this JVM and the same every time
     * the same waiter is decided again: a store that orders waiters across JVMs (tickets) or
     * deduplicates a call it had to repeat combines it with an id of its own for this JVM.
     */
    long id(int i);

    /**
     * When attempt {@code i} queued, on the store's clock ({@link LimitStore#clock()}), or
     * {@link Long#MIN_VALUE} if the batch does not know (this default). A store that orders waiters across
     * JVMs places a waiter by when it queued, not by when its first call reached the server (a call
     * already in flight holds a newcomer back for a round trip).
     */
    default long queuedAt(int i) {
        return Long.MIN_VALUE;
    }

    /**
     * Whether attempt {@code i} is a {@code tryAcquire}: granted now or refused, never queued, so it
     * never blocks a later attempt.
     */
    boolean isTry(int i);
}
