package dev.concurry.retry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.time.ManualClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RetryPolicyTest {
    private final ManualClock clock = new ManualClock();

    @ParameterizedTest(name = "R1 {0}: waits {1} (ms) with jitter 0")
    @CsvSource({
            "FIXED,       100 100 100 100 100 100",
            "LINEAR,      100 200 300 400 500 600",
            "EXPONENTIAL, 100 200 400 800 1000 1000",
            "FIBONACCI,   100 100 200 300 500 800",
    })
    void R1_each_backoff_gives_its_wait_sequence_capped_at_max_wait(Backoff backoff, String expected) {
        RetryPolicy<Object> policy = RetryPolicy.builder().maxAttempts(7)
                .backoff(backoff, Duration.ofMillis(100)).maxWait(Duration.ofMillis(1000)).build();

        List<Long> waits = IntStream.rangeClosed(1, 6).mapToObj(k -> policy.waitAfter(k, 0.999).toMillis()).toList();

        assertThat(waits).containsExactlyElementsOf(
                java.util.Arrays.stream(expected.trim().split(" +")).map(Long::valueOf).toList());
    }

    @Test
    void R1_jitter_scales_the_randomness_within_its_bounds() {
        RetryPolicy<Object> policy = RetryPolicy.builder().backoff(Backoff.FIXED, Duration.ofMillis(1000))
                .jitter(0.3).build();

        assertThat(policy.waitAfter(1, 0.0)).isEqualTo(Duration.ofMillis(1000));
        assertThat(policy.waitAfter(1, 0.5)).isEqualTo(Duration.ofMillis(850));
        assertThat(policy.waitAfter(1, 0.999_999_999).toMillis()).isBetween(699L, 700L);
        RetryPolicy<Object> full = RetryPolicy.builder().backoff(Backoff.FIXED, Duration.ofMillis(1000)).jitter(1)
                .build();
        assertThat(full.waitAfter(1, 0.75)).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    void R1_bad_values_are_refused_with_a_message_naming_them() {
        assertThatThrownBy(() -> RetryPolicy.builder().maxAttempts(0)).hasMessageContaining("maxAttempts");
        assertThatThrownBy(() -> RetryPolicy.builder().jitter(1.5)).hasMessageContaining("jitter");
        assertThatThrownBy(() -> RetryPolicy.builder().jitter(Double.NaN)).hasMessageContaining("jitter");
        assertThatThrownBy(() -> RetryPolicy.builder().backoff(Backoff.FIXED, Duration.ofSeconds(-1)))
                .hasMessageContaining("baseWait");
        assertThatThrownBy(() -> RetryPolicy.builder().deadline(Duration.ZERO)).hasMessageContaining("deadline");
    }

    @Test
    void R2_the_next_attempt_starts_exactly_after_the_backoff_and_no_thread_waits_meanwhile() {
        RetryPolicy<String> policy = RetryPolicy.<String>builder().maxAttempts(3)
                .backoff(Backoff.EXPONENTIAL, Duration.ofSeconds(1)).build();
        List<Long> startedAt = new ArrayList<>();
        List<Thread> startedOn = new ArrayList<>();

        CompletableFuture<String> result = policy.execute(() -> {
            startedAt.add(clock.nanoTime());
            startedOn.add(Thread.currentThread());
            return startedAt.size() < 3
                    ? CompletableFuture.failedFuture(new IOException("flaky " + startedAt.size()))
                    : CompletableFuture.completedFuture("ok");
        }, clock);

        assertThat(startedAt).containsExactly(0L);
        clock.advance(Duration.ofMillis(999));
        assertThat(startedAt).hasSize(1);
        clock.advance(Duration.ofMillis(1));
        assertThat(startedAt).containsExactly(0L, 1_000_000_000L);
        clock.advance(Duration.ofSeconds(2));
        assertThat(startedAt).containsExactly(0L, 1_000_000_000L, 3_000_000_000L);
        assertThat(result).isCompletedWithValue("ok");
        // every attempt ran on the caller's or the clock-advancing thread: nothing slept in between
        assertThat(startedOn).containsOnly(Thread.currentThread());
    }

    @Test
    void R3_when_attempts_run_out_one_exception_carries_every_failure_the_count_and_the_time() {
        RetryPolicy<String> policy = RetryPolicy.<String>builder().maxAttempts(3)
                .backoff(Backoff.FIXED, Duration.ofSeconds(1)).build();
        AtomicInteger n = new AtomicInteger();

        CompletableFuture<String> result = policy.execute(
                () -> CompletableFuture.failedFuture(new IOException("boom " + n.incrementAndGet())), clock);
        clock.advance(Duration.ofSeconds(5));

        assertThat(result).isCompletedExceptionally();
        RetriesExhaustedException e = cause(result, RetriesExhaustedException.class);
        assertThat(e.attempts()).isEqualTo(3);
        assertThat(e.elapsed()).isEqualTo(Duration.ofSeconds(2));
        assertThat(e.failures()).extracting(Throwable::getMessage).containsExactly("boom 1", "boom 2", "boom 3");
        assertThat(e.getCause()).hasMessage("boom 3");
        assertThat(e.getSuppressed()).hasSize(2);
        assertThat(e.getMessage()).contains("3 attempts", "boom 1", "boom 3");
    }

    @Test
    void R1_retries_stop_at_once_on_an_exception_that_is_not_retryable() {
        RetryPolicy<String> policy = RetryPolicy.<String>builder().maxAttempts(5).retryOn(IOException.class)
                .backoff(Backoff.FIXED, Duration.ofSeconds(1)).build();
        AtomicInteger n = new AtomicInteger();

        CompletableFuture<String> result = policy.execute(() -> n.incrementAndGet() == 1
                ? CompletableFuture.failedFuture(new IOException("retry me"))
                : CompletableFuture.failedFuture(new IllegalStateException("fatal")), clock);
        clock.advance(Duration.ofSeconds(10));

        assertThat(n).hasValue(2);
        IllegalStateException e = cause(result, IllegalStateException.class);
        assertThat(e).hasMessage("fatal");
        assertThat(e.getSuppressed()).extracting(Throwable::getMessage).containsExactly("retry me");
    }

    @Test
    void R1_retry_predicates_see_the_attempt_number_and_elapsed_time() {
        List<AttemptContext> seen = new ArrayList<>();
        RetryPolicy<String> policy = RetryPolicy.<String>builder().maxAttempts(10)
                .retryIf((t, c) -> seen.add(c) && c.attempt() < 3)
                .backoff(Backoff.LINEAR, Duration.ofSeconds(1)).build();

        CompletableFuture<String> result = policy.execute(() -> CompletableFuture.failedFuture(new IOException("x")),
                clock);
        clock.advance(Duration.ofSeconds(10));

        assertThat(seen).containsExactly(new AttemptContext(1, Duration.ZERO),
                new AttemptContext(2, Duration.ofSeconds(1)), new AttemptContext(3, Duration.ofSeconds(3)));
        assertThat(cause(result, IOException.class)).hasMessage("x");
    }

    @Test
    void R1_retryUntil_retries_until_a_valid_result_and_fails_listing_every_rejected_result() {
        RetryPolicy<Integer> policy = RetryPolicy.<Integer>builder().maxAttempts(4)
                .backoff(Backoff.FIXED, Duration.ofMillis(10)).retryUntil(v -> v >= 3).build();
        AtomicInteger n = new AtomicInteger();

        CompletableFuture<Integer> valid = policy.execute(() -> CompletableFuture.completedFuture(n.incrementAndGet()),
                clock);
        clock.advance(Duration.ofSeconds(1));
        assertThat(valid).isCompletedWithValue(3);

        CompletableFuture<Integer> never = policy.execute(() -> CompletableFuture.completedFuture(-1), clock);
        clock.advance(Duration.ofSeconds(1));
        RetriesExhaustedException e = cause(never, RetriesExhaustedException.class);
        assertThat(e.rejectedResults()).containsExactly(-1, -1, -1, -1);
        assertThat(e.attempts()).isEqualTo(4);
    }

    @Test
    void R1_no_attempt_starts_after_the_deadline() {
        RetryPolicy<String> policy = RetryPolicy.<String>builder().maxAttempts(100)
                .backoff(Backoff.FIXED, Duration.ofSeconds(1)).deadline(Duration.ofMillis(2500)).build();
        AtomicInteger n = new AtomicInteger();

        CompletableFuture<String> result = policy.execute(() -> {
            n.incrementAndGet();
            return CompletableFuture.failedFuture(new IOException("down"));
        }, clock);
        clock.advance(Duration.ofSeconds(10));

        assertThat(n).hasValue(3);       // at 0 s, 1 s and 2 s; the next would start at 3 s > 2.5 s
        assertThat(cause(result, RetriesExhaustedException.class).getMessage()).contains("deadline");
    }

    @Test
    void cancelling_stops_further_attempts() {
        RetryPolicy<String> policy = RetryPolicy.<String>builder().maxAttempts(5)
                .backoff(Backoff.FIXED, Duration.ofSeconds(1)).build();
        AtomicInteger n = new AtomicInteger();

        CompletableFuture<String> result = policy.execute(() -> {
            n.incrementAndGet();
            return CompletableFuture.failedFuture(new IOException("down"));
        }, clock);
        result.cancel(true);
        clock.advance(Duration.ofSeconds(10));

        assertThat(n).hasValue(1);
        assertThat(clock.pendingWakeups()).isZero();
    }

    private static <T extends Throwable> T cause(CompletableFuture<?> future, Class<T> type) {
        try {
            future.get();
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(type);
            return type.cast(e.getCause());
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected " + type.getSimpleName() + " but completed normally");
    }
}
