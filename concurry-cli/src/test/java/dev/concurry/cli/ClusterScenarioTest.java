package dev.concurry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ClusterScenarioTest {

    @Test
    void L18b_W2_workers_on_three_member_jvms_share_one_set_and_a_killed_member_fails_over_without_any_429()
            throws Exception {
        ClusterScenario.Result result = new ClusterScenario(3, 10, Duration.ofSeconds(8), Duration.ofSeconds(4), 0)
                .run();

        assertThat(result.rejected()).as("429 answers").isZero();
        assertThat(result.callsByMember()).as("calls made on each member JVM").hasSize(3);
        assertThat(result.failedOver()).as("calls of the killed member retried elsewhere").isPositive();
        assertThat(result.utilization()).as("utilisation of the token limit (four JVMs on busy cores)")
                .isGreaterThan(0.3);
        StringWriter printed = new StringWriter();
        result.print(new PrintWriter(printed));
        assertThat(printed.toString()).contains("killed with kill -9", "calls failed over",
                "answered 429 (rate limited)");
    }

    @Test
    void the_cluster_demo_needs_two_members_at_least() {
        StringWriter err = new StringWriter();
        int code = Main.commandLine().setErr(new PrintWriter(err)).execute("demo", "cluster", "--members", "1");

        assertThat(code).isNotZero();
        assertThat(err.toString()).contains("--members >= 2");
    }
}
