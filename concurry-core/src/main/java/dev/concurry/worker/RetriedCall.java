package dev.concurry.worker;

import dev.concurry.retry.RetryPolicy;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * One call run under a retry policy (SPEC R2): every attempt is a separate {@link Invocation}
 * dispatched like a plain call, so it runs on whichever worker the load balancer picks and acquires
 * and releases its own limits. Between attempts the call is on no worker: the policy waits on the
 * pool's {@link BackoffTimer}. All attempts share one queue slot (SPEC W5), taken by the first and
 * given back with the final outcome.
 */
final class RetriedCall<W extends Worker, R> implements Supplier<CompletionStage<R>> {
    private final LocalWorkerPool<W> pool;
    private final WorkerCall<W, R> call;
    private final Invocation.SharedSlot slot = new Invocation.SharedSlot();
    /** The first attempt, dispatched by the submitter before the policy starts; handed over once. */
    private Invocation<W, R> first;
    private volatile int attempts;

    private RetriedCall(LocalWorkerPool<W> pool, WorkerCall<W, R> call) {
        this.pool = pool;
        this.call = call;
    }

    /**
     * Dispatches the first attempt on the caller's thread (so a full queue blocks or fails fast and a
     * closed pool throws, exactly as for a plain submit), then lets {@code policy} run the rest.
     */
    static <W extends Worker, R> CompletableFuture<R> start(LocalWorkerPool<W> pool, RetryPolicy<R> policy,
            WorkerCall<W, R> call) {
        RetriedCall<W, R> retried = new RetriedCall<>(pool, call);
        Invocation<W, R> first = new Invocation<>(call, retried.slot);
        try {
            pool.dispatcher().dispatch(first);
        } catch (RuntimeException | Error e) {
            retried.slot.release();
            throw e;
        }
        retried.first = first;
        CompletableFuture<R> result = policy.execute(retried, pool.backoffTimer());
        CallerFuture<R> caller = new CallerFuture<>(result);
        result.whenComplete((value, failure) -> {
            retried.slot.release(); // before the caller hears of it, as for a plain call
            if (failure != null) {
                caller.completeExceptionally(failure);
            } else {
                caller.complete(value);
            }
        });
        return caller;
    }

    /** The caller's future: completed after the queue slot is free; cancelling it cancels the retry. */
    private static final class CallerFuture<R> extends CompletableFuture<R> {
        private final CompletableFuture<R> retry;

        CallerFuture(CompletableFuture<R> retry) {
            this.retry = retry;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled) {
                retry.cancel(mayInterruptIfRunning); // stops the backoff or interrupts the running attempt
            }
            return cancelled;
        }
    }

    /** Starts the next attempt; called by the policy, from the timer after a backoff. Never blocks. */
    @Override
    public CompletionStage<R> get() {
        attempts++;
        Invocation<W, R> attempt = first;
        if (attempt != null) {
            first = null;
            return attempt.future;
        }
        if (pool.isClosed()) {
            return CompletableFuture.failedFuture(closedDuringBackoff());
        }
        Invocation<W, R> next = new Invocation<>(call, slot);
        if (pool.mode() == Mode.SYNC) {
            // A SYNC worker runs calls on the thread that dispatches them: never the shared timer thread.
            Thread.ofVirtual().name("concurry-" + pool.name() + "-retry").start(() -> dispatch(next));
        } else {
            dispatch(next);
        }
        return next.future;
    }

    private void dispatch(Invocation<W, R> attempt) {
        try {
            pool.dispatcher().dispatch(attempt);
        } catch (IllegalStateException closed) { // closed between the check and the dispatch
            attempt.future.completeExceptionally(closedDuringBackoff());
        }
    }

    private CancellationException closedDuringBackoff() {
        int made = attempts - 1;
        return new CancellationException("worker pool '" + pool.name() + "' closed while the call waited to retry"
                + " (after " + made + (made == 1 ? " attempt)" : " attempts)"));
    }
}
