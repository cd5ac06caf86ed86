package dev.concurry.limit;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Something that grants {@link Acquisition}s: a {@link LimitSet}, or a pool of sets. The four ways
 * to acquire (SPEC L11):
 *
 * <pre>{@code
 * try (Acquisition acq = limiter.acquire(Request.of("tokens", 500))) { ... }            // blocks
 * Acquisition within = limiter.acquire(Request.of("tokens", 500), Duration.ofSeconds(2)); // or times out
 * Optional<Acquisition> now = limiter.tryAcquire(Request.of("tokens", 500));              // never blocks
 * CompletableFuture<Acquisition> later = limiter.acquireAsync(Request.of("tokens", 500)); // no thread held
 * }</pre>
 *
 * <p>Every method rejects a request that can never succeed at once with an
 * {@link IllegalArgumentException} (SPEC L10): an unknown key, an amount above the key's capacity, a
 * fractional amount of a resource limit. Nothing is taken when an acquisition fails in any way.
 */
public interface Limiter {

    /**
     * Blocks until every unit of {@code request} is granted, then returns the handle that gives
     * them back. Waiting is first-come first-served per key and wakes exactly when the request can be
     * granted (no polling).
     *
     * @throws AcquireInterruptedException if the thread is interrupted while waiting (nothing is
     *                                     taken; the interrupt status is kept)
     */
    Acquisition acquire(Request request);

    /**
     * Like {@link #acquire(Request)}, but gives up at {@code timeout}.
     *
     * @throws AcquireTimeoutException     when the timeout passes first (nothing is taken)
     * @throws AcquireInterruptedException if the thread is interrupted while waiting
     */
    Acquisition acquire(Request request, Duration timeout);

    /** Grants {@code request} now if it can be granted now without overtaking a waiter, else empty. */
    Optional<Acquisition> tryAcquire(Request request);

    /**
     * Like {@link #tryAcquire(Request)} (never blocks), but a refusal explains itself (SPEC L25): which
     * keys were short, how much each had, and when the whole request could be granted.
     *
     * <pre>{@code
     * switch (limits.attempt(Request.of("requests", 1).and("tokens", 800))) {
     *     case Attempt.Granted g -> { try (Acquisition acq = g.acquisition()) { serve(); } }
     *     case Attempt.Refused r -> reply429(r.refusal().grantableIn());
     * }
     * }</pre>
     *
     * <p>This default explains nothing more than that it was refused; every limiter of this library
     * overrides it.
     */
    default Attempt attempt(Request request) {
        Optional<Acquisition> now = tryAcquire(request);
        if (now.isPresent()) {
            return new Attempt.Granted(now.get());
        }
        return new Attempt.Refused(new Refusal(toString(), java.util.Map.of(), request, java.util.List.of(),
                Optional.empty(), false));
    }

    /**
     * A future completed when {@code request} is granted, holding no thread while it waits.
     * Cancelling it (or completing it any other way) withdraws the request with nothing taken.
     * A request that can never succeed fails the future with {@link IllegalArgumentException}.
     */
    CompletableFuture<Acquisition> acquireAsync(Request request);

    /**
     * Like {@link #acquireAsync(Request)}, but the future fails with {@link AcquireTimeoutException}
     * (saying which keys were short) when {@code timeout} passes first; nothing is then taken.
     *
     * <pre>{@code
     * limits.acquireAsync(Request.of("tokens", 500), Duration.ofSeconds(2))
     *         .thenAccept(acq -> { try (acq) { call(); } });
     * }</pre>
     */
    default CompletableFuture<Acquisition> acquireAsync(Request request, Duration timeout) {
        long nanos = timeout.isNegative() ? -1 : timeout.toNanos();
        if (nanos < 0) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("timeout must not be negative, got: "
                    + timeout));
        }
        return acquireAsync(request).orTimeout(nanos, java.util.concurrent.TimeUnit.NANOSECONDS)
                .exceptionallyCompose(failure -> CompletableFuture.failedFuture(
                        failure instanceof java.util.concurrent.TimeoutException
                                ? new AcquireTimeoutException("could not acquire " + request + " within " + timeout
                                        + "; nothing was taken")
                                : failure));
    }

    /** {@link #acquire(Request)} of the {@linkplain Request#empty() empty request}. */
    default Acquisition acquire() {
        return acquire(Request.empty());
    }

    /** {@link #tryAcquire(Request)} of the {@linkplain Request#empty() empty request}. */
    default Optional<Acquisition> tryAcquire() {
        return tryAcquire(Request.empty());
    }

    /** A consistent snapshot of every key and of the totals, with no side effect (SPEC L15). */
    LimitStats stats();
}
