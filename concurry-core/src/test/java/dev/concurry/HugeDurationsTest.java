package dev.concurry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.CallLimit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.progress.Progress;
import dev.concurry.progress.ProgressTracker;
import dev.concurry.retry.Backoff;
import dev.concurry.retry.RetryPolicy;
import dev.concurry.time.ManualClock;
import dev.concurry.worker.Futures;
import dev.concurry.worker.Mode;
import dev.concurry.worker.WaitMode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerPool;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Issue 17 E4: a {@link Duration} too long for a long of nanoseconds (about 292 years) never surfaces
 * as {@code ArithmeticException}. Specifications refuse it at construction with an
 * {@code IllegalArgumentException} naming the field and value (SPEC L4); timeouts and waits take it as
 * "forever".
 */
class HugeDurationsTest {
    /** Far more than Long.MAX_VALUE nanoseconds. */
    private static final Duration HUGE = Duration.ofDays(Long.MAX_VALUE / 86_400);
    private static final Duration LONGEST = Duration.ofNanos(Long.MAX_VALUE);

    @Test
    @DisplayName("E4 L4 a window too long for nanoseconds is refused at construction, naming the field and value")
    void L4_window_beyond_nanoseconds_is_refused_at_construction() {
        assertThatThrownBy(() -> RateLimit.of("tokens", 10, HUGE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("window of 'tokens'").hasMessageContaining(HUGE.toString());
        assertThatThrownBy(() -> CallLimit.of(10, LONGEST.plusNanos(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("window of 'call_count'").hasMessageContaining(LONGEST.plusNanos(1).toString());
    }

    @Test
    @DisplayName("E4 L4 the longest window a long of nanoseconds holds builds a set that grants and refuses")
    void L4_longest_window_works() {
        ManualClock clock = new ManualClock();
        try (LimitSet set = LimitSet.builder().add(RateLimit.of("tokens", 2, LONGEST))
                .backend(Backends.inMemory(clock)).build()) {
            set.tryAcquire(Request.of("tokens", 2)).orElseThrow().close();
            clock.advance(Duration.ofDays(365));
            assertThat(set.tryAcquire(Request.of("tokens", 1))).isEmpty();
        }
    }

    @Test
    @DisplayName("E4 L11 an acquire timeout of centuries waits like no timeout")
    void L11_acquire_with_huge_timeout() {
        try (LimitSet set = LimitSet.builder().add(RateLimit.of("tokens", 2, Duration.ofSeconds(1)))
                .backend(Backends.inMemory(new ManualClock())).build();
                Acquisition granted = set.acquire(Request.of("tokens", 1), HUGE)) {
            assertThat(granted.config()).isEmpty();
        }
    }

    @Test
    @DisplayName("E4 W10 gather and wait with a timeout of centuries return what completed")
    void W10_futures_with_huge_timeouts() {
        List<CompletableFuture<String>> futures = List.of(CompletableFuture.completedFuture("a"),
                CompletableFuture.completedFuture("b"));
        assertThat(Futures.gather(futures, HUGE)).containsExactly("a", "b");
        assertThat(Futures.wait(futures, WaitMode.ALL_COMPLETED, HUGE).done()).hasSize(2);
    }

    @Test
    @DisplayName("E4 W7 a pool with a close timeout of centuries closes after its calls")
    void W7_close_timeout_of_centuries() {
        WorkerPool<Echo> pool = Worker.options(Echo.class).mode(Mode.THREAD).closeTimeout(HUGE).init(Echo::new);
        CompletableFuture<String> call = pool.submit(e -> e.echo("x"));
        pool.close();
        assertThat(call).isCompletedWithValue("x");
    }

    @Test
    @DisplayName("E4 W8 a process pool's call timeout of centuries never fires")
    void W8_call_timeout_of_centuries() {
        try (WorkerPool<Echo> pool = Worker.options(Echo.class).mode(Mode.PROCESS).callTimeout(HUGE)
                .jvmOptions("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m").init(Echo::new)) {
            assertThat(pool.<String>call(e -> e.echo("y"))).isEqualTo("y");
        }
    }

    @Test
    @DisplayName("E4 R1 retry waits of centuries are capped, not overflowed, and never fire early")
    void R1_retry_waits_of_centuries() {
        RetryPolicy<String> policy = RetryPolicy.<String>builder().maxAttempts(3).backoff(Backoff.EXPONENTIAL, HUGE)
                .maxWait(HUGE).jitter(0.5).retryOn(IllegalStateException.class).build();
        assertThat(policy.waitAfter(70, 0.5)).isBetween(LONGEST.dividedBy(2), LONGEST);

        ManualClock clock = new ManualClock(1_000);
        AtomicInteger attempts = new AtomicInteger();
        CompletableFuture<String> result = policy.execute(() -> attempts.incrementAndGet() == 1
                ? CompletableFuture.failedFuture(new IllegalStateException("first"))
                : CompletableFuture.completedFuture("second"), clock);
        clock.advance(Duration.ofDays(365 * 100));
        assertThat(attempts).hasValue(1);
        assertThat(result).isNotDone();
        result.cancel(true);
    }

    @Test
    @DisplayName("E4 P1 progress lines every few centuries print only the start and the end")
    void P1_progress_every_centuries() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ManualClock clock = new ManualClock();
        try (ProgressTracker tracker = Progress.lines("scan", new PrintStream(bytes, true, StandardCharsets.UTF_8),
                HUGE, clock).start(10)) {
            clock.advance(Duration.ofDays(365));
            tracker.step(10);
        }
        assertThat(bytes.toString(StandardCharsets.UTF_8).lines()).hasSize(2);
    }

    @Test
    @DisplayName("E4 a manual clock refuses to be advanced past Long.MAX_VALUE nanoseconds, and stays put")
    void manual_clock_refuses_to_overflow() {
        ManualClock clock = new ManualClock(5);
        assertThatThrownBy(() -> clock.advance(HUGE)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("amount").hasMessageContaining(HUGE.toString());
        assertThatThrownBy(() -> clock.advanceNanos(Long.MAX_VALUE)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(Long.toString(Long.MAX_VALUE));
        assertThat(clock.nanoTime()).isEqualTo(5);
        clock.advanceNanos(Long.MAX_VALUE - 5);
        assertThat(clock.nanoTime()).isEqualTo(Long.MAX_VALUE);
    }

    /** A worker for the pool test. */
    static class Echo extends Worker {
        String echo(String s) {
            return s;
        }
    }
}
