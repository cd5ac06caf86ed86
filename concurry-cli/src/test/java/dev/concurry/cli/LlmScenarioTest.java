package dev.concurry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class LlmScenarioTest {

    @Test
    void with_limits_the_server_never_answers_429_and_the_token_limit_is_nearly_fully_used() throws Exception {
        LlmScenario.Result result = new LlmScenario(10, dev.concurry.worker.Mode.THREAD, Duration.ofSeconds(4),
                Duration.ofSeconds(2), true, 0).run();

        assertThat(result.rejected()).as("429 answers").isZero();
        assertThat(result.ok()).isEqualTo(result.calls()).isPositive();
        assertThat(result.utilization()).as("utilisation of the token limit").isGreaterThan(0.85);
    }

    @Test
    void without_limits_the_same_workload_gets_429s() throws Exception {
        LlmScenario.Result result = new LlmScenario(10, dev.concurry.worker.Mode.THREAD, Duration.ofSeconds(2),
                Duration.ofSeconds(1), false, 0).run();

        assertThat(result.rejected()).as("429 answers").isPositive();
    }

    @Test
    void demo_command_prints_the_result_table() {
        StringWriter out = new StringWriter();
        int code = new CommandLine(new Main()).setOut(new PrintWriter(out))
                .execute("demo", "llm", "--seconds", "1.5", "--minute", "1");

        assertThat(code).isZero();
        assertThat(out.toString()).contains("with Concurry limits", "answered 429 (rate limited)",
                "utilisation of the token limit");
    }

    @Test
    void a_port_in_use_is_reported_in_one_clear_line_with_a_non_zero_exit() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            StringWriter err = new StringWriter();
            int code = Main.commandLine().setErr(new PrintWriter(err))
                    .execute("demo", "llm", "--seconds", "1", "--port", String.valueOf(taken.getLocalPort()));

            assertThat(code).isNotZero();
            assertThat(err.toString()).startsWith("concurry: cannot start the demo LLM server on 127.0.0.1:"
                    + taken.getLocalPort()).doesNotContain("\tat ");
        }
    }

    @Test
    void bad_options_and_unknown_scenarios_exit_non_zero_with_a_message() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Main()).setErr(new PrintWriter(err));

        assertThat(cli.execute("demo", "nonsense")).isNotZero();
        assertThat(err.toString()).contains("nonsense");
        assertThat(cli.execute("demo", "--workers", "0")).isNotZero();
        assertThat(cli.execute("bogus")).isNotZero();
    }
}
