package dev.concurry.retry;

import dev.concurry.time.MonotonicClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiPredicate;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * When and how to try a call again (SPEC R1–R3): an immutable value, set per worker and overridable
 * per call.
 *
 * <pre>{@code
 * RetryPolicy<Completion> retry = RetryPolicy.<Completion>builder()
 *         .maxAttempts(5).retryOn(IOException.class)
 *         .backoff(Backoff.EXPONENTIAL, Duration.ofSeconds(1)).maxWait(Duration.ofSeconds(30)).jitter(0.3)
 *         .retryUntil(c -> c.isValidJson())
 *         .build();
 * CompletableFuture<Completion> result = retry.execute(() -> client.completeAsync(prompt), MonotonicClock.system());
 * }</pre>
 *
 * <p>Waiting between attempts holds no thread: the next attempt is scheduled on the clock. Jitter j in
 * [0, 1] scales the randomness: each wait is drawn uniformly from [(1 - j) × w, w], so 0 gives the
 * exact sequence and 1 gives "full jitter". When attempts run out, the future fails with a
 * {@link RetriesExhaustedException} listing every failure and rejected result; an exception that is
 * not retryable fails it at once with that exception, unwrapped (earlier failures as suppressed).
 *
 * @param <R> the type of result the validators check ({@code Object} for a policy shared by methods)
 */
public final class RetryPolicy<R> {
    private static final RetryPolicy<Object> NONE = RetryPolicy.builder().maxAttempts(1).build();

    private final int maxAttempts;
    private final List<BiPredicate<? super Throwable, AttemptContext>> retryOn;
    private final Backoff backoff;
    private final Duration baseWait;
    private final Duration maxWait;
    private final double jitter;
    private final List<Predicate<? super R>> validators;
    private final Duration deadline;

    private RetryPolicy(Builder<R> b) {
        this.maxAttempts = b.maxAttempts;
        this.retryOn = List.copyOf(b.retryOn.isEmpty() ? List.of((t, c) -> t instanceof Exception) : b.retryOn);
        this.backoff = b.backoff;
        this.baseWait = b.baseWait;
        this.maxWait = b.maxWait;
        this.jitter = b.jitter;
        this.validators = List.copyOf(b.validators);
        this.deadline = b.deadline;
    }

    /** A builder; the defaults are 3 attempts, any {@link Exception}, exponential from 1 s, max 30 s, jitter 0. */
    public static <R> Builder<R> builder() {
        return new Builder<>();
    }

    /** The policy that never retries: one attempt. */
    @SuppressWarnings("unchecked")
    public static <R> RetryPolicy<R> none() {
        return (RetryPolicy<R>) NONE;
    }

    public int maxAttempts() {
        return maxAttempts;
    }

    public Backoff backoff() {
        return backoff;
    }

    public Duration baseWait() {
        return baseWait;
    }

    public Duration maxWait() {
        return maxWait;
    }

    public double jitter() {
        return jitter;
    }

    /** The overall deadline from the first attempt's start, or {@link Duration#ZERO} for none. */
    public Duration deadline() {
        return deadline;
    }

    /** Whether a call under this policy can run more than once or be validated. */
    public boolean isActive() {
        return maxAttempts > 1 || !validators.isEmpty();
    }

    /**
     * The wait after the {@code failure}-th failed attempt: the backoff capped at the max wait, then
     * jittered with {@code uniform} (a number in [0, 1)).
     */
    public Duration waitAfter(int failure, double uniform) {
        Duration wait = backoff.wait(baseWait, failure, maxWait);
        if (jitter == 0) {
            return wait;
        }
        return Duration.ofNanos((long) (wait.toNanos() * (1 - jitter * uniform)));
    }

    /** Whether {@code failure} of the attempt described by {@code context} may be retried. */
    public boolean retries(Throwable failure, AttemptContext context) {
        for (BiPredicate<? super Throwable, AttemptContext> p : retryOn) {
            try {
                if (p.test(failure, context)) {
                    return true;
                }
            } catch (RuntimeException e) {
                return false;       // a failing predicate means "do not retry"
            }
        }
        return false;
    }

    /** Whether every validator accepts {@code result}; a validator that throws rejects it. */
    public boolean accepts(R result) {
        for (Predicate<? super R> validator : validators) {
            try {
                if (!validator.test(result)) {
                    return false;
                }
            } catch (RuntimeException e) {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs {@code attempt} until it succeeds with an accepted result or this policy gives up. Each
     * attempt is a fresh call of the supplier; the wait between attempts is scheduled on
     * {@code clock} and holds no thread. Cancelling the returned future stops further attempts and
     * cancels the running one.
     */
    public CompletableFuture<R> execute(Supplier<? extends CompletionStage<R>> attempt, MonotonicClock clock) {
        Objects.requireNonNull(attempt, "attempt");
        Objects.requireNonNull(clock, "clock");
        return new Execution<>(this, attempt, clock).start();
    }

    @Override
    public String toString() {
        return "RetryPolicy[maxAttempts=" + maxAttempts + ", backoff=" + backoff + " from " + baseWait
                + ", maxWait=" + maxWait + ", jitter=" + jitter + ", validators=" + validators.size()
                + (deadline.isZero() ? "" : ", deadline=" + deadline) + "]";
    }

    /** One run of a call under a policy. */
    private static final class Execution<R> {
        private final RetryPolicy<R> policy;
        private final Supplier<? extends CompletionStage<R>> attempt;
        private final MonotonicClock clock;
        private final CompletableFuture<R> result = new CompletableFuture<>();
        private final List<Throwable> failures = new ArrayList<>();
        private final List<Object> rejected = new ArrayList<>();
        private final long start;
        private int attempts;
        private volatile CompletableFuture<R> current;
        private volatile MonotonicClock.Wakeup pending;

        Execution(RetryPolicy<R> policy, Supplier<? extends CompletionStage<R>> attempt, MonotonicClock clock) {
            this.policy = policy;
            this.attempt = attempt;
            this.clock = clock;
            this.start = clock.nanoTime();
            result.whenComplete((r, t) -> {
                if (result.isCancelled()) {
                    MonotonicClock.Wakeup w = pending;
                    if (w != null) {
                        w.cancel();
                    }
                    CompletableFuture<R> c = current;
                    if (c != null) {
                        c.cancel(true);
                    }
                }
            });
        }

        CompletableFuture<R> start() {
            runAttempt();
            return result;
        }

        private void runAttempt() {
            if (result.isDone()) {
                return;
            }
            attempts++;
            CompletableFuture<R> stage;
            try {
                stage = attempt.get().toCompletableFuture();
            } catch (RuntimeException | Error e) {
                stage = CompletableFuture.failedFuture(e);
            }
            current = stage;
            if (result.isCancelled()) {
                stage.cancel(true); // cancelled while this attempt started: the handler saw the previous one
                return;
            }
            stage.whenComplete(this::onAttemptDone);
        }

        private void onAttemptDone(R value, Throwable thrown) {
            if (result.isDone()) {
                return;
            }
            Duration elapsed = Duration.ofNanos(clock.nanoTime() - start);
            AttemptContext context = new AttemptContext(attempts, elapsed);
            if (thrown != null) {
                Throwable failure = unwrap(thrown);
                if (failure instanceof CancellationException) {
                    result.completeExceptionally(failure);
                    return;
                }
                failures.add(failure);
                if (!policy.retries(failure, context)) {
                    // Not retryable: the caller sees this exception as is; earlier failures ride along.
                    failures.stream().filter(f -> f != failure).forEach(failure::addSuppressed);
                    result.completeExceptionally(failure);
                    return;
                }
                retryOrGiveUp(elapsed, failure);
                return;
            }
            if (policy.accepts(value)) {
                result.complete(value);
                return;
            }
            rejected.add(value);
            retryOrGiveUp(elapsed, null);
        }

        private void retryOrGiveUp(Duration elapsed, Throwable last) {
            if (attempts >= policy.maxAttempts) {
                giveUp("all attempts used", elapsed, last);
                return;
            }
            Duration wait = policy.waitAfter(attempts, ThreadLocalRandom.current().nextDouble());
            if (!policy.deadline.isZero() && elapsed.plus(wait).compareTo(policy.deadline) > 0) {
                giveUp("deadline " + policy.deadline + " would pass before the next attempt", elapsed, last);
                return;
            }
            if (wait.isZero()) {
                runAttempt();
            } else {
                long now = clock.nanoTime();
                // A wait of ~292 years must not wrap past Long.MAX_VALUE (a manual clock compares instants).
                pending = clock.wakeAt(now + Math.min(wait.toNanos(), Long.MAX_VALUE - Math.max(0, now)),
                        this::runAttempt);
            }
        }

        private void giveUp(String why, Duration elapsed, Throwable last) {
            result.completeExceptionally(
                    new RetriesExhaustedException(why, attempts, elapsed, failures, rejected, last));
        }

        /**
         * The attempt's own exception (SPEC W6): only the {@link CompletionException} that
         * {@code CompletableFuture} wraps around failures of dependent stages is peeled off. An
         * {@code ExecutionException} the call itself threw is its original exception and stays.
         */
        private static Throwable unwrap(Throwable t) {
            while (t instanceof CompletionException && t.getCause() != null) {
                t = t.getCause();
            }
            return t;
        }
    }

    /** Collects a policy; validates each value as it is set. */
    public static final class Builder<R> {
        private int maxAttempts = 3;
        private final List<BiPredicate<? super Throwable, AttemptContext>> retryOn = new ArrayList<>();
        private Backoff backoff = Backoff.EXPONENTIAL;
        private Duration baseWait = Duration.ofSeconds(1);
        private Duration maxWait = Duration.ofSeconds(30);
        private double jitter;
        private final List<Predicate<? super R>> validators = new ArrayList<>();
        private Duration deadline = Duration.ZERO;

        private Builder() {
        }

        /** How many attempts in all, the first included (≥ 1). */
        public Builder<R> maxAttempts(int attempts) {
            if (attempts < 1) {
                throw new IllegalArgumentException("maxAttempts must be >= 1, got: " + attempts);
            }
            this.maxAttempts = attempts;
            return this;
        }

        /** Retries failures of these types (and subtypes). Without any retryOn, every Exception is retried. */
        @SafeVarargs
        public final Builder<R> retryOn(Class<? extends Throwable>... types) {
            for (Class<? extends Throwable> type : types) {
                Objects.requireNonNull(type, "type");
                retryOn.add((t, c) -> type.isInstance(t));
            }
            return this;
        }

        /** Retries failures the predicate accepts; it sees the attempt number and elapsed time. */
        public Builder<R> retryIf(BiPredicate<? super Throwable, AttemptContext> predicate) {
            retryOn.add(Objects.requireNonNull(predicate, "predicate"));
            return this;
        }

        /** The backoff and its base wait (> 0). */
        public Builder<R> backoff(Backoff backoff, Duration baseWait) {
            this.backoff = Objects.requireNonNull(backoff, "backoff");
            Objects.requireNonNull(baseWait, "baseWait");
            if (baseWait.isNegative()) {
                throw new IllegalArgumentException("baseWait must not be negative, got: " + baseWait);
            }
            this.baseWait = baseWait;
            return this;
        }

        /** The longest wait between two attempts (before jitter). */
        public Builder<R> maxWait(Duration maxWait) {
            Objects.requireNonNull(maxWait, "maxWait");
            if (maxWait.isNegative()) {
                throw new IllegalArgumentException("maxWait must not be negative, got: " + maxWait);
            }
            this.maxWait = maxWait;
            return this;
        }

        /** Randomness in [0, 1]: each wait is drawn from [(1 - jitter) × wait, wait]. */
        public Builder<R> jitter(double jitter) {
            if (!(jitter >= 0 && jitter <= 1)) {
                throw new IllegalArgumentException("jitter must be in [0, 1], got: " + jitter);
            }
            this.jitter = jitter;
            return this;
        }

        /** Retries until every validator accepts the result (a validator that throws rejects). */
        public Builder<R> retryUntil(Predicate<? super R> validator) {
            validators.add(Objects.requireNonNull(validator, "validator"));
            return this;
        }

        /** No attempt starts later than this after the first one started. */
        public Builder<R> deadline(Duration deadline) {
            Objects.requireNonNull(deadline, "deadline");
            if (deadline.isNegative() || deadline.isZero()) {
                throw new IllegalArgumentException("deadline must be positive, got: " + deadline);
            }
            this.deadline = deadline;
            return this;
        }

        public RetryPolicy<R> build() {
            return new RetryPolicy<>(this);
        }
    }
}
