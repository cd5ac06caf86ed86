package dev.concurry.limit.spi;

/**
 * Where a store reports what it decided for each attempt of a {@link Batch}; every attempt gets
 * exactly one call.
 */
public interface DecisionSink {

    /**
     * Attempt {@code i} was granted: every unit is taken.
     *
     * @param seq the grant's sequence number in the set, passed back when it is settled
     */
    void granted(int i, long seq);

    /**
     * Attempt {@code i} was not granted. A queued attempt keeps waiting; a try is refused.
     *
     * @param shortOf the limits it is short of (bit i for limit i), or those an earlier waiter holds up
     * @param wait    nanoseconds until it could be granted if nothing else changed; {@code +Infinity}
     *                when only a release can free it; NaN when it queues behind an earlier waiter
     */
    void refused(int i, long shortOf, double wait);

    /**
     * Once the batch is decided, limit {@code limit} has {@code units} available (negative in debt).
     * Remote stores report it for the limits the batch touched ({@link SetAlgorithms#reportAvailable}),
     * so that a pool can prefer the set with the most left without asking every set; local stores
     * need not (the engine reads them directly).
     */
    default void available(int limit, double units) {
    }

    /**
     * Decide the waiters again after {@code nanos} even if nothing announces a change: units may come
     * back unannounced then (a remote store's lease of a dead holder expires). Not a promise that any
     * waiter can be granted then (a refusal's own wait says that).
     */
    default void recheck(double nanos) {
    }
}
