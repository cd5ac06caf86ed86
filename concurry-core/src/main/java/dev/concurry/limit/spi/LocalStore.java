package dev.concurry.limit.spi;

/**
 * A store whose state this JVM changes directly (see {@link LimitStore}). The engine calls every
 * method under the set's lock, one call at a time, so a store needs no lock of its own against this
 * JVM; it needs one only against other processes sharing the state. Every method returns at once:
 * nothing here waits for capacity.
 */
public interface LocalStore extends LimitStore {

    /**
     * Grants {@code r} now if every limit allows it.
     *
     * @return the grant's sequence number (≥ 1), or 0 if refused (nothing taken)
     */
    long tryGrant(ResolvedRequest r);

    /**
     * Decides {@code batch} atomically, in order, as {@link SetAlgorithms#decide} does.
     *
     * @return the clock reading the reported waits count from
     */
    long decide(Batch batch, DecisionSink sink);

    /**
     * Settles grant {@code seq} of {@code r} to its actual usage ({@code used}: per limit taken, NaN
     * where not reported, null if never updated) and releases its resource permits.
     *
     * @return whether units came back (waiters may now be granted)
     */
    boolean settle(ResolvedRequest r, long seq, double[] used);

    /** Why {@code r} would be refused now, or that it would not be ({@code shortOf} 0); takes nothing. */
    Shortfall explain(ResolvedRequest r);

    /** See {@link SetAlgorithms#headroom}: a hint for pools, read now. */
    double headroom(ResolvedRequest r);

    /** What every limit has available and in use now. */
    StoreSnapshot snapshot();

    /**
     * Nanoseconds until this store's state is back to its initial state if nothing else happens (see
     * {@link SetAlgorithms#idleIn}): 0 when it is now, so that closing the store and opening a fresh one
     * would change nothing; {@code +Infinity} while a permit is held or when the store cannot tell.
     * A keyed family drops a key only then (SPEC L24). The default never lets a key go.
     */
    default double idleIn() {
        return Double.POSITIVE_INFINITY;
    }

    /**
     * Records what the provider reported ({@link SetAlgorithms#observe}) so that every process using
     * the state honours it (SPEC F2–F4). {@link ArrayStore} implements it; a store of another kind
     * that does not cannot listen to providers, and says so.
     *
     * @throws UnsupportedOperationException if this store cannot record provider feedback
     */
    default void observe(Feedback feedback) {
        throw new UnsupportedOperationException("the limit store " + describe() + " (" + getClass().getName()
                + ") cannot record what a provider reported; implement LocalStore.observe, or extend ArrayStore");
    }

    /**
     * A grant made without the engine's lock, for stores that can keep grants apart more cheaply than it
     * (a lock-free representation, or a lock held only around the algorithm); tried
     * only while no waiter is queued. Returns the sequence number, or 0 to take the locked path
     * (which decides every refusal, so fairness and counters stay exact).
     */
    default long tryGrantFast(ResolvedRequest r) {
        return 0;
    }

    /**
     * Gives back the resource permits of grant {@code seq} of {@code r} (a settlement with no usage to
     * report) without the engine's lock, for stores that can (see {@link #tryGrantFast}); tried only while
     * no waiter is queued. Returns false to take the locked path.
     */
    default boolean releaseFast(ResolvedRequest r, long seq) {
        return false;
    }

    /** Whether {@link #tryGrantFast} can ever grant (the engine skips it otherwise). */
    default boolean hasFastPath() {
        return false;
    }
}
