package dev.concurry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RegionsScenarioTest {

    @Test
    void L22_a_limit_pool_over_two_regions_uses_both_quotas_without_any_429() throws Exception {
        RegionsScenario.Result result = new RegionsScenario(10, Duration.ofSeconds(4), Duration.ofSeconds(2), true)
                .run();

        assertThat(result.rejected()).as("429 answers").isZero();
        assertThat(result.calls("us-east-1")).isPositive();
        assertThat(result.calls("eu-west-1")).isPositive();
        // the larger quota serves more calls
        assertThat(result.calls("us-east-1")).isGreaterThan(result.calls("eu-west-1"));
        assertThat(result.utilization("us-east-1")).isGreaterThan(0.8);
        assertThat(result.utilization("eu-west-1")).isGreaterThan(0.8);
    }

    @Test
    void without_limits_round_robin_over_the_regions_gets_429s() throws Exception {
        RegionsScenario.Result result = new RegionsScenario(10, Duration.ofSeconds(2), Duration.ofSeconds(1), false)
                .run();

        assertThat(result.rejected()).as("429 answers").isPositive();
    }
}
