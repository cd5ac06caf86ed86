package dev.concurry.limit;

import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One pool acquisition that no set could grant at once (SPEC L22): it waits on every eligible set at
 * the same time through {@link LimitSet#acquireAsync}, so it is granted by whichever set can grant
 * first, exactly when that set can, with no polling across sets.
 *
 * <p>Concurrency design. {@link #result} is the single point of decision: the first attempt that
 * completes it wins; anything else that completes it (a timeout, a cancellation, the caller giving up)
 * makes every attempt lose. When it completes, every attempt still pending is cancelled (the set
 * withdraws it with nothing taken), and an attempt granted after the decision gives its units back
 * ({@link PoolMember#giveBack}). An attempt started while the decision is being made is not missed:
 * each attempt is published before {@link #result} is checked again, and {@link #cancelAttempts}
 * reads the attempts after the decision (both through volatile accesses).
 */
final class GrantRace {
    private final List<PoolMember> order;
    private final Request request;
    private final CompletableFuture<Acquisition> result = new CompletableFuture<>();
    private final AtomicReferenceArray<CompletableFuture<Acquisition>> attempts;
    private final AtomicInteger failures = new AtomicInteger();
    private final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    /** The first attempt granted claims this before completing {@link #result}. */
    private final AtomicReference<Win> win = new AtomicReference<>();

    private record Win(PoolMember member, int position) {
    }

    /** {@code order}: the sets to wait on, the balancing strategy's preferred one first. */
    GrantRace(List<PoolMember> order, Request request) {
        this.order = order;
        this.request = request;
        this.attempts = new AtomicReferenceArray<>(order.size());
    }

    /** Starts waiting on every set; returns {@link #result}, completed by the first set that grants. */
    CompletableFuture<Acquisition> start() {
        result.whenComplete((acquisition, failure) -> cancelAttempts());
        for (int i = 0; i < order.size() && !result.isDone(); i++) {
            CompletableFuture<Acquisition> attempt;
            try {
                attempt = order.get(i).set.acquireAsync(request);
            } catch (RuntimeException e) {
                attempt = CompletableFuture.failedFuture(e);
            }
            attempts.set(i, attempt);
            if (result.isDone()) {
                attempt.cancel(false);      // decided meanwhile; cancelAttempts may not have seen it
            }
            int position = i;
            attempt.whenComplete((acquisition, failure) -> onAttempt(position, acquisition, failure));
        }
        return result;
    }

    CompletableFuture<Acquisition> result() {
        return result;
    }

    /** The set that won, once {@link #result} completed normally. */
    PoolMember winner() {
        return win.get().member();
    }

    /** The winner's position in the order given (0: the preferred set; more: a failover). */
    int winnerPosition() {
        return win.get().position();
    }

    /**
     * The acquirer gives up (interrupt): nobody wins any more, and a grant that already won is given
     * back. Returns whether a grant had already won (and was given back).
     */
    boolean abandon() {
        if (result.cancel(false) || result.isCompletedExceptionally()) {
            return false;
        }
        winner().giveBack(result.join());
        return true;
    }

    private void onAttempt(int position, Acquisition acquisition, Throwable failure) {
        PoolMember member = order.get(position);
        if (failure == null) {
            if (!win.compareAndSet(null, new Win(member, position))) {
                member.giveBack(acquisition);
                return;
            }
            // Withdraw from the other sets before the caller sees the grant: once it holds the grant,
            // no other set still has this acquisition queued (nor grants it behind the caller's back).
            cancelAttempts();
            if (!result.complete(acquisition)) {
                member.giveBack(acquisition);
            }
            return;
        }
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause()
                : failure;
        if (cause instanceof CancellationException) {
            return;     // cancelled by us once the race was decided
        }
        errors.add(cause);
        if (failures.incrementAndGet() == order.size()) {
            Throwable first = errors.poll();
            for (Throwable other; (other = errors.poll()) != null;) {
                first.addSuppressed(other);
            }
            result.completeExceptionally(first);
        }
    }

    private void cancelAttempts() {
        for (int i = 0; i < attempts.length(); i++) {
            CompletableFuture<Acquisition> attempt = attempts.get(i);
            if (attempt != null) {
                attempt.cancel(false);
            }
        }
    }
}
