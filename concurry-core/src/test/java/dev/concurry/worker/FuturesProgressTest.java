package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.progress.Progress;
import dev.concurry.time.ManualClock;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Progress driven by the futures helpers and TaskExecutor.map (SPEC P1, W10), on a manual clock. */
class FuturesProgressTest {
    private final ManualClock clock = new ManualClock();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    /** A line per step (every = 0), so that each completion shows. */
    private Progress lines(String description) {
        return Progress.lines(description, out, Duration.ZERO, clock);
    }

    @Test
    void P1_W10_gather_steps_once_per_completed_future_and_ends_with_a_success_line() throws Exception {
        List<CompletableFuture<Integer>> futures = IntStream.range(0, 3).mapToObj(i -> new CompletableFuture<Integer>())
                .toList();
        Thread completer = completeInTurn(futures, null);

        assertThat(Futures.gather(futures, lines("gather"))).containsExactly(0, 1, 2);
        completer.join();

        assertThat(lines()).containsExactly(
                "gather: started, 3 to do",
                "gather: 1/3 (33.3%) 1.0/s ETA 2.0s",
                "gather: 2/3 (66.7%) 1.0/s ETA 1.0s",
                "gather: 3/3 (100.0%) 1.0/s",
                "gather: done 3/3 in 3.0s (1.0/s)");
    }

    @Test
    void P1_W10_gather_ends_with_a_FAILED_line_when_a_future_fails() throws Exception {
        List<CompletableFuture<Integer>> futures = IntStream.range(0, 3).mapToObj(i -> new CompletableFuture<Integer>())
                .toList();
        Thread completer = completeInTurn(futures, new IllegalStateException("third failed"));

        assertThatThrownBy(() -> Futures.gather(futures, lines("gather"))).isInstanceOf(IllegalStateException.class)
                .hasMessage("third failed");
        completer.join();

        assertThat(lines()).endsWith("gather: 3/3 (100.0%) 1.0/s", "gather: FAILED at 3/3 in 3.0s (1.0/s)");
    }

    @Test
    void P1_gather_by_key_wait_and_asCompleted_report_progress_too() {
        Progress every10s = Progress.lines("keys", out, Duration.ofSeconds(10), clock);
        assertThat(Futures.gather(Map.of("a", CompletableFuture.completedFuture(1)), every10s)).containsEntry("a", 1);

        WaitResult<CompletableFuture<Integer>> waited = Futures.wait(
                List.of(CompletableFuture.completedFuture(1),
                        CompletableFuture.<Integer>failedFuture(new IOException("x"))),
                WaitMode.ALL_COMPLETED, null, Progress.lines("wait", out, Duration.ofSeconds(10), clock));
        assertThat(waited.done()).hasSize(2);

        Progress streamed = Progress.lines("stream", out, Duration.ofSeconds(10), clock);
        assertThat(
                Futures.asCompleted(List.of(CompletableFuture.completedFuture(1), CompletableFuture.completedFuture(2)),
                        streamed).count())
                .isEqualTo(2);

        assertThat(lines()).containsExactly(
                "keys: started, 1 to do", "keys: done 1/1 in 0.0s (-/s)",
                "wait: started, 2 to do", "wait: FAILED at 2/2 in 0.0s (-/s)",
                "stream: started, 2 to do", "stream: done 2/2 in 0.0s (-/s)");
    }

    @Test
    void P1_a_gather_that_times_out_ends_its_progress_as_failed() {
        List<CompletableFuture<Integer>> futures = List.of(CompletableFuture.completedFuture(1),
                new CompletableFuture<>());

        assertThatThrownBy(() -> Futures.gather(futures, Duration.ofMillis(10),
                Progress.lines("slow", out, Duration.ofSeconds(10), clock))).isInstanceOf(WaitTimeoutException.class);

        assertThat(lines()).containsExactly("slow: started, 2 to do", "slow: FAILED at 1/2 in 0.0s (-/s)");
    }

    @Test
    void P1_W9_map_with_progress_steps_as_items_complete_and_closes_after_the_last() {
        try (TaskExecutor tasks = TaskExecutor.options().mode(Mode.SYNC).init()) {
            List<CompletableFuture<Integer>> doubled = tasks.map(List.of(1, 2, 3), n -> {
                clock.advance(Duration.ofSeconds(1));      // each item takes one second
                return n * 2;
            }, lines("map"));

            assertThat(Futures.gather(doubled)).containsExactly(2, 4, 6);
        }
        assertThat(lines()).containsExactly(
                "map: started, 3 to do",
                "map: 1/3 (33.3%) 1.0/s ETA 2.0s",
                "map: 2/3 (66.7%) 1.0/s ETA 1.0s",
                "map: 3/3 (100.0%) 1.0/s",
                "map: done 3/3 in 3.0s (1.0/s)");
    }

    @Test
    void P1_W9_map_with_a_failing_item_ends_with_a_FAILED_line() {
        try (TaskExecutor tasks = TaskExecutor.options().mode(Mode.VIRTUAL).maxWorkers(2).init()) {
            List<CompletableFuture<Integer>> results = tasks.map(List.of(1, 2, 3), n -> {
                if (n == 2) {
                    throw new IOException("item 2");
                }
                return n;
            }, Progress.lines("map", out, Duration.ofSeconds(10), clock));

            Futures.wait(results, WaitMode.ALL_COMPLETED);
        }
        // The tracker closes on the thread completing the last item: wait for that line.
        long deadline = System.nanoTime() + TestWorkers.LONG.toNanos();
        while (lines().size() < 2 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(lines()).containsExactly("map: started, 3 to do", "map: FAILED at 3/3 in 0.0s (-/s)");
    }

    /**
     * Once every future has a listener (the helper is waiting), completes them in order on another
     * thread, one second of clock apart; the last one fails with {@code lastFailure} if given.
     */
    private Thread completeInTurn(List<CompletableFuture<Integer>> futures, RuntimeException lastFailure) {
        return Thread.ofPlatform().start(() -> {
            long deadline = System.nanoTime() + TestWorkers.LONG.toNanos();
            while (futures.stream().anyMatch(f -> f.getNumberOfDependents() == 0) && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            for (int i = 0; i < futures.size(); i++) {
                clock.advance(Duration.ofSeconds(1));
                if (i == futures.size() - 1 && lastFailure != null) {
                    futures.get(i).completeExceptionally(lastFailure);
                } else {
                    futures.get(i).complete(i);
                }
            }
        });
    }

    private List<String> lines() {
        return bytes.toString(StandardCharsets.UTF_8).lines().toList();
    }
}
