package dev.concurry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DbScenarioTest {

    @Test
    void with_a_resource_limit_of_5_the_database_refuses_no_connection() throws Exception {
        DbScenario.Result result = new DbScenario(20, dev.concurry.worker.Mode.THREAD, Duration.ofSeconds(2), true)
                .run();

        assertThat(result.refused()).as("connections refused").isZero();
        assertThat(result.ok()).isEqualTo(result.queries()).isPositive();
        assertThat(result.maxConcurrent()).isLessThanOrEqualTo(DbScenario.CONNECTIONS);
    }

    @Test
    void W8_in_process_mode_the_limit_is_shared_through_shared_memory_and_no_connection_is_refused() throws Exception {
        DbScenario.Result result = new DbScenario(8, dev.concurry.worker.Mode.PROCESS, Duration.ofSeconds(3), true)
                .run();

        assertThat(result.refused()).as("connections refused").isZero();
        assertThat(result.ok()).isEqualTo(result.queries()).isPositive();
        assertThat(result.maxConcurrent()).isLessThanOrEqualTo(DbScenario.CONNECTIONS);
    }

    @Test
    void without_limits_the_database_refuses_connections() throws Exception {
        DbScenario.Result result = new DbScenario(20, dev.concurry.worker.Mode.THREAD, Duration.ofSeconds(2), false)
                .run();

        assertThat(result.refused()).as("connections refused").isPositive();
        assertThat(result.maxConcurrent()).isGreaterThan(DbScenario.CONNECTIONS);
    }
}
