package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.retry.Backoff;
import dev.concurry.retry.RetriesExhaustedException;
import dev.concurry.retry.RetryPolicy;
import dev.concurry.time.ManualClock;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Worker-level and per-call retries (SPEC R1–R3, W5, W6). */
class WorkerRetryTest {
    private static final long LONG_SECONDS = TestWorkers.LONG.toSeconds();

    private final ManualClock clock = new ManualClock();

    /** A worker whose calls fail a given number of times, counting every attempt. */
    static class Flaky extends Worker {
        final AtomicInteger attempts;

        Flaky(AtomicInteger attempts) {
            this.attempts = attempts;
        }

        Flaky() {
            this(new AtomicInteger());
        }

        String failTimes(int failures) throws IOException {
            int attempt = attempts.incrementAndGet();
            if (attempt <= failures) {
                throw new IOException("attempt " + attempt + " failed");
            }
            return "ok after " + attempt;
        }

        String failWith(RuntimeException e) {
            attempts.incrementAndGet();
            throw e;
        }

        int count() {
            return attempts.incrementAndGet();
        }

        /** Holds the resource during the attempt; the first attempt fails. */
        String useDbFailingOnce() throws IOException {
            try (Acquisition acq = limits().acquire(Request.of("db", 1))) {
                if (attempts.incrementAndGet() == 1) {
                    throw new IOException("db call failed");
                }
                return "db ok";
            }
        }

        boolean dbIsFree() {
            Optional<Acquisition> acq = limits().tryAcquire(Request.of("db", 1));
            acq.ifPresent(Acquisition::close);
            return acq.isPresent();
        }
    }

    private static RetryPolicy<Object> exponential(int attempts) {
        return RetryPolicy.builder().maxAttempts(attempts).retryOn(IOException.class)
                .backoff(Backoff.EXPONENTIAL, Duration.ofSeconds(1)).build();
    }

    private static RetryPolicy<Object> immediate(int attempts) {
        return RetryPolicy.builder().maxAttempts(attempts).backoff(Backoff.FIXED, Duration.ZERO).build();
    }

    private WorkerPool<Flaky> pool(Flaky worker, Mode mode, RetryPolicy<?> retry) {
        return Worker.options(Flaky.class).mode(mode).retry(retry).clock(clock).init(() -> worker);
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL", "SYNC"})
    void R2_a_call_failing_twice_returns_its_value_after_exactly_the_backoff_waits(Mode mode) throws Exception {
        Flaky worker = new Flaky();
        try (WorkerPool<Flaky> pool = pool(worker, mode, exponential(5))) {
            CompletableFuture<String> result = pool.submit(w -> w.failTimes(2));

            awaitUntil(() -> worker.attempts.get() == 1 && clock.pendingWakeups() == 1);
            clock.advance(Duration.ofMillis(999));
            assertThat(worker.attempts).hasValue(1);          // not re-run before the 1 s backoff
            clock.advance(Duration.ofMillis(1));

            awaitUntil(() -> worker.attempts.get() == 2 && clock.pendingWakeups() == 1);
            clock.advance(Duration.ofMillis(1999));
            assertThat(worker.attempts).hasValue(2);          // not before the 2 s backoff either
            assertThat(result).isNotDone();
            clock.advance(Duration.ofMillis(1));

            assertThat(result.get(LONG_SECONDS, TimeUnit.SECONDS)).isEqualTo("ok after 3");
            assertThat(worker.attempts).hasValue(3);
            assertThat(pool.stats().workers().get(0).total()).isEqualTo(3); // stats count attempts
        }
    }

    @Test
    void R1_W6_retries_stop_at_a_non_retryable_exception_which_reaches_the_caller_with_its_type() {
        Flaky worker = new Flaky();
        try (WorkerPool<Flaky> pool = pool(worker, Mode.THREAD, exponential(5))) {
            CompletableFuture<String> result = pool.submit(w -> w.failWith(new IllegalArgumentException("bad input")));

            assertThatThrownBy(() -> result.get(LONG_SECONDS, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessage("bad input");
            assertThatThrownBy(() -> pool.call(w -> w.failWith(new IllegalStateException("also bad"))))
                    .isInstanceOf(IllegalStateException.class).hasMessage("also bad");
            assertThat(worker.attempts).hasValue(2);
            assertThat(clock.pendingWakeups()).isZero();
        }
    }

    @Test
    void R1_retryUntil_retries_until_the_result_is_valid() {
        Flaky worker = new Flaky();
        RetryPolicy<Integer> untilThree = RetryPolicy.<Integer>builder().maxAttempts(5)
                .backoff(Backoff.FIXED, Duration.ZERO).retryUntil(n -> n >= 3).build();
        try (WorkerPool<Flaky> pool = pool(worker, Mode.THREAD, RetryPolicy.none())) {
            assertThat(pool.call(untilThree, Flaky::count)).isEqualTo(3);
        }
    }

    @Test
    void R3_a_result_that_never_becomes_valid_fails_listing_every_rejected_result() {
        Flaky worker = new Flaky();
        RetryPolicy<Integer> never = RetryPolicy.<Integer>builder().maxAttempts(3)
                .backoff(Backoff.FIXED, Duration.ZERO).retryUntil(n -> n > 100).build();
        try (WorkerPool<Flaky> pool = pool(worker, Mode.VIRTUAL, RetryPolicy.none())) {
            assertThatThrownBy(() -> pool.call(never, Flaky::count))
                    .isInstanceOfSatisfying(RetriesExhaustedException.class, e -> {
                        assertThat(e.attempts()).isEqualTo(3);
                        assertThat(e.rejectedResults()).containsExactly(1, 2, 3);
                        assertThat(e.failures()).isEmpty();
                    });
        }
    }

    @Test
    void R3_when_attempts_run_out_the_caller_gets_every_failure() throws Exception {
        Flaky worker = new Flaky();
        try (WorkerPool<Flaky> pool = pool(worker, Mode.THREAD, immediate(3))) {
            CompletableFuture<String> result = pool.submit(w -> w.failTimes(10));

            assertThatThrownBy(() -> result.get(LONG_SECONDS, TimeUnit.SECONDS)).cause()
                    .isInstanceOfSatisfying(RetriesExhaustedException.class, e -> {
                        assertThat(e.attempts()).isEqualTo(3);
                        assertThat(e.failures()).extracting(Throwable::getMessage)
                                .containsExactly("attempt 1 failed", "attempt 2 failed", "attempt 3 failed");
                        assertThat(e.getCause()).isInstanceOf(IOException.class);
                    });
        }
    }

    @Test
    void R2_a_resource_limit_of_one_is_free_during_the_backoff() throws Exception {
        Flaky worker = new Flaky();
        try (LimitSet db = LimitSet.builder().add(ResourceLimit.of("db", 1)).build();
                WorkerPool<Flaky> pool = Worker.options(Flaky.class).mode(Mode.THREAD).maxWorkers(2).limits(db)
                        .retry(exponential(3)).clock(clock).init(() -> new Flaky(worker.attempts))) {
            CompletableFuture<String> a = pool.submit(Flaky::useDbFailingOnce);
            awaitUntil(() -> clock.pendingWakeups() == 1);   // A failed its attempt and waits to retry

            // B runs during A's backoff, before the clock moves: the permit A used is free.
            assertThat(pool.submit(Flaky::dbIsFree).get(LONG_SECONDS, TimeUnit.SECONDS)).isTrue();
            assertThat(a).isNotDone();

            clock.advance(Duration.ofSeconds(1));
            assertThat(a.get(LONG_SECONDS, TimeUnit.SECONDS)).isEqualTo("db ok");
        }
    }

    @Test
    void R2_a_thread_worker_serves_other_calls_during_a_backoff() throws Exception {
        Flaky worker = new Flaky();
        try (WorkerPool<Flaky> pool = Worker.options(Flaky.class).mode(Mode.THREAD).maxWorkers(1)
                .retry(exponential(3)).clock(clock).init(() -> worker)) {
            CompletableFuture<String> a = pool.submit(w -> w.failTimes(1));
            awaitUntil(() -> clock.pendingWakeups() == 1);

            CompletableFuture<String> b = pool.submit(RetryPolicy.none(),
                    w -> "B on " + Thread.currentThread().getName());
            assertThat(b.get(LONG_SECONDS, TimeUnit.SECONDS)).startsWith("B on concurry-");
            assertThat(a).isNotDone();

            clock.advance(Duration.ofSeconds(1));
            assertThat(a.get(LONG_SECONDS, TimeUnit.SECONDS)).isEqualTo("ok after 2");
        }
    }

    @Test
    void R1_a_per_call_policy_beats_the_worker_level_policy() {
        Flaky worker = new Flaky();
        try (WorkerPool<Flaky> pool = pool(worker, Mode.THREAD, immediate(5))) {
            assertThatThrownBy(() -> pool.call(RetryPolicy.none(), w -> w.failTimes(100)))
                    .isInstanceOf(CallFailedException.class).cause().isInstanceOf(IOException.class);
            assertThat(worker.attempts).hasValue(1);

            assertThatThrownBy(() -> pool.call(immediate(2), w -> w.failTimes(100)))
                    .isInstanceOfSatisfying(RetriesExhaustedException.class,
                            e -> assertThat(e.attempts()).isEqualTo(2));
            assertThat(worker.attempts).hasValue(3);

            assertThatThrownBy(() -> pool.call(w -> w.failTimes(100)))     // the pool's policy
                    .isInstanceOfSatisfying(RetriesExhaustedException.class,
                            e -> assertThat(e.attempts()).isEqualTo(5));
            assertThat(worker.attempts).hasValue(8);
        }
    }

    @Test
    void R2_cancelling_during_a_backoff_stops_further_attempts() {
        Flaky worker = new Flaky();
        try (WorkerPool<Flaky> pool = pool(worker, Mode.THREAD, exponential(5))) {
            CompletableFuture<String> result = pool.submit(w -> w.failTimes(10));
            awaitUntil(() -> clock.pendingWakeups() == 1);

            assertThat(result.cancel(true)).isTrue();
            assertThat(clock.pendingWakeups()).isZero();
            clock.advance(Duration.ofHours(1));

            assertThat(result).isCancelled();
            assertThat(worker.attempts).hasValue(1);
        }
    }

    @Test
    void W5_a_retried_call_holds_one_queue_slot_through_its_backoff_and_gives_it_back_at_the_end() throws Exception {
        Flaky worker = new Flaky();
        try (WorkerPool<Flaky> pool = Worker.options(Flaky.class).mode(Mode.THREAD).maxQueuedTasks(1)
                .blockWhenFull(false).retry(exponential(3)).clock(clock).init(() -> worker)) {
            CompletableFuture<String> a = pool.submit(w -> w.failTimes(1));
            awaitUntil(() -> clock.pendingWakeups() == 1);

            assertThatThrownBy(() -> pool.submit(w -> "B")).isInstanceOf(RejectedExecutionException.class);

            clock.advance(Duration.ofSeconds(1));   // the retry needs no new slot
            assertThat(a.get(LONG_SECONDS, TimeUnit.SECONDS)).isEqualTo("ok after 2");
            assertThat(pool.submit(w -> "C").get(LONG_SECONDS, TimeUnit.SECONDS)).isEqualTo("C");
        }
    }

    @Test
    void W7_closing_the_pool_cancels_a_call_waiting_to_retry() {
        Flaky worker = new Flaky();
        WorkerPool<Flaky> pool = pool(worker, Mode.THREAD, exponential(5));
        CompletableFuture<String> result = pool.submit(w -> w.failTimes(10));
        awaitUntil(() -> clock.pendingWakeups() == 1);

        pool.close();

        assertThat(result).isCompletedExceptionally();
        assertThat(result.handle((value, failure) -> failure).join()).isInstanceOf(CancellationException.class)
                .hasMessageContaining("closed while the call waited to retry (after 1 attempt)");
        assertThat(worker.attempts).hasValue(1);
    }

    @Test
    void W9_a_task_executor_retries_tasks_with_its_policy_or_the_one_given() throws Exception {
        AtomicInteger attempts = new AtomicInteger();
        try (TaskExecutor tasks = TaskExecutor.options().mode(Mode.VIRTUAL).retry(immediate(3)).clock(clock).init()) {
            Task<String> flaky = () -> {
                if (attempts.incrementAndGet() < 3) {
                    throw new IOException("flaky");
                }
                return "done";
            };
            assertThat(tasks.submit(flaky).get(LONG_SECONDS, TimeUnit.SECONDS)).isEqualTo("done");
            attempts.set(0);
            assertThatThrownBy(() -> tasks.submit(RetryPolicy.none(), flaky).get(LONG_SECONDS, TimeUnit.SECONDS))
                    .cause().isInstanceOf(IOException.class);
            assertThat(attempts).hasValue(1);
        }
    }

    /** Waits for a condition another thread brings about, failing after a generous bound. */
    private static void awaitUntil(BooleanSupplier condition) {
        long deadline = System.nanoTime() + TestWorkers.LONG.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not reached in " + TestWorkers.LONG);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }
}
