package dev.concurry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * SPEC F2–F3 end to end: a quota configured twice too high, another client on the same key, and
 * workers that listen to the API's headers. A scaled minute of 2 s (as the other demo tests), three of
 * them, the first excluded (the set has not heard the provider yet).
 */
class FeedbackScenarioTest {

    @Test
    @DisplayName("F2 F3 listening to the provider: after the first minute under 1% 429s and at least 90% of the real quota used")
    void listening_keeps_429s_rare_and_the_real_quota_used() throws Exception {
        FeedbackScenario.Result result = new FeedbackScenario(10, dev.concurry.worker.Mode.THREAD,
                Duration.ofSeconds(6),
                Duration.ofSeconds(2)).run();
        FeedbackScenario.Run with = result.with();
        FeedbackScenario.Run without = result.without();

        assertThat(with.callsAfterFirstMinute()).as("calls after the first minute").isPositive();
        assertThat(with.rejectionRateAfterFirstMinute()).as("429s after the first minute, with feedback")
                .isLessThan(0.01);
        assertThat(with.utilizationAfterFirstMinute()).as("use of the real quota, with feedback")
                .isGreaterThanOrEqualTo(0.90);
        assertThat(without.rejectionRateAfterFirstMinute()).as("429s after the first minute, without feedback")
                .isGreaterThan(0.3);
        assertThat(without.rejected()).isGreaterThan(10 * Math.max(1, with.rejected()));
    }

    @Test
    void demo_command_prints_both_runs_and_draws_the_chart(@TempDir Path output) {
        StringWriter out = new StringWriter();
        int code = new CommandLine(new Main()).setOut(new PrintWriter(out))
                .execute("demo", "feedback", "--seconds", "2", "--minute", "1", "--output", output.toString());

        assertThat(code).isZero();
        assertThat(out.toString()).contains("without feedback", "with feedback", "429s after the first minute",
                "utilisation of the real quota after it");
        assertThat(Files.exists(output.resolve("provider-feedback.png"))).isTrue();
    }
}
