package dev.concurry.limit.spi;

import java.util.concurrent.CompletableFuture;

/**
 * A store whose state lives elsewhere: a server or a cluster decides (see {@link LimitStore}). The
 * engine sends it one batch at a time per set; attempts arriving while a call is in flight join the
 * next call, so one round trip can decide many attempts (a group commit).
 *
 * <p>Every future must complete within the store's own timeout. A call that fails must have taken
 * nothing, or the store must give back what it took once it learns of it (a lost reply): the engine
 * treats a failure as "nothing was taken" and fails the attempts with the exception.
 */
public interface RemoteStore extends LimitStore {

    /**
     * Decides {@code batch} atomically, in order, as {@link SetAlgorithms#decide} does, reporting each
     * attempt to {@code sink} before the future completes. A store that grants without limits while
     * its server is unreachable (fail-open) reports sequence number 0: such a grant is never settled.
     *
     * @return the local clock reading the reported waits count from
     */
    CompletableFuture<Long> decide(Batch batch, DecisionSink sink);

    /**
     * Settles grant {@code seq} of {@code r} (see {@link LocalStore#settle}); completes with whether
     * units came back.
     */
    CompletableFuture<Boolean> settle(ResolvedRequest r, long seq, double[] used);

    /** What every limit has available and in use now. */
    CompletableFuture<StoreSnapshot> snapshot();

    /**
     * Records what the provider reported, atomically, as {@link SetAlgorithms#observe} does, so that
     * every process using the set honours it (SPEC F2–F4). A store that cannot completes exceptionally
     * with {@link UnsupportedOperationException} (this default).
     */
    default CompletableFuture<Void> observe(Feedback feedback) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("the limit store " + describe()
                + " (" + getClass().getName() + ") cannot record what a provider reported; implement"
                + " RemoteStore.observe"));
    }
}
