package dev.concurry.progress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.time.ManualClock;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LineProgressTest {
    private final ManualClock clock = new ManualClock();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    @Test
    void P1_a_non_terminal_stream_gets_a_start_line_periodic_lines_with_rate_and_eta_and_a_success_line() {
        Progress progress = Progress.lines("fetching", out, Duration.ofSeconds(1), clock);
        try (ProgressTracker tracker = progress.start(100)) {
            for (int i = 0; i < 40; i++) {
                clock.advance(Duration.ofMillis(50));
                tracker.step();
            }
        }

        assertThat(lines()).containsExactly(
                "fetching: started, 100 to do",
                "fetching: 20/100 (20.0%) 20.0/s ETA 4.0s",
                "fetching: 40/100 (40.0%) 20.0/s ETA 3.0s",
                "fetching: done 40/100 in 2.0s (20.0/s)");
    }

    @Test
    void P1_the_final_line_reports_failure() {
        try (ProgressTracker tracker = Progress.lines("importing", out, Duration.ofSeconds(10), clock).start(10)) {
            tracker.step(3);
            clock.advance(Duration.ofSeconds(3));
            tracker.fail();
        }

        assertThat(lines()).containsExactly("importing: started, 10 to do",
                "importing: FAILED at 3/10 in 3.0s (1.0/s)");
    }

    @Test
    void P1_close_is_idempotent_and_an_unknown_total_prints_counts_only() {
        ProgressTracker tracker = Progress.lines("scan", out, Duration.ZERO, clock).start(-1);
        clock.advance(Duration.ofSeconds(1));
        tracker.step(5);
        tracker.close();
        tracker.close();

        assertThat(lines()).containsExactly("scan: started", "scan: 5 5.0/s", "scan: done 5 in 1.0s (5.0/s)");
    }

    @Test
    void P1_a_time_boxed_run_reports_elapsed_and_remaining_time_instead_of_an_unknown_total() {
        try (ProgressTracker tracker = Progress.lines("load", out, Duration.ofSeconds(1), clock)
                .startFor(Duration.ofSeconds(3))) {
            for (int i = 0; i < 25; i++) {
                clock.advance(Duration.ofMillis(100));
                tracker.step(2);
            }
        }

        assertThat(lines()).containsExactly(
                "load: started, for 3.0s",
                "load: 1.0s of 3.0s, 2.0s left, 20 done (20.0/s)",
                "load: 2.0s of 3.0s, 1.0s left, 40 done (20.0/s)",
                "load: done 50 in 2.5s (20.0/s)");
    }

    @Test
    void P1_a_time_boxed_run_needs_a_positive_length() {
        Progress progress = Progress.lines("load", out, Duration.ofSeconds(1), clock);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> progress.startFor(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("length must be a positive duration");
        Progress custom = total -> ProgressTracker.NONE;
        assertThat(custom.startFor(Duration.ofSeconds(1))).as("a custom progress reports as for an unknown total")
                .isSameAs(ProgressTracker.NONE);
    }

    @Test
    void P1_bar_falls_back_to_lines_when_output_is_not_a_terminal() {
        // Under the test runner standard output is not a terminal, so the bar must not need one.
        try (ProgressTracker tracker = Progress.bar("test").start(1)) {
            tracker.step();
        }
        assertThat(Progress.none().start(5)).isSameAs(ProgressTracker.NONE);
    }

    private java.util.List<String> lines() {
        return bytes.toString(StandardCharsets.UTF_8).lines().toList();
    }
}
