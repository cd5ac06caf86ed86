package dev.concurry.examples.llm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;

/** The example, run short on a random port: the provider never answers 429, and the work gets done. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"example.seconds=3", "example.minute=1s", "example.exit=false"})
class LlmExampleApplicationTest {

    @Autowired
    ScenarioRun run;

    @Test
    @DisplayName("L13 the example's run: zero 429s, tokens reserved then settled")
    void theScenarioRunsWithoutA429() {
        ScenarioRun.Report report = run.report();
        assertThat(report).isNotNull();
        assertThat(report.calls()).isPositive();
        assertThat(report.tooMany()).as("the limits kept the client within the provider's").isZero();
        assertThat(report.answered()).isEqualTo(report.calls());
        assertThat(report.tokens()).as("at most 10,000 tokens per minute, ~3 minutes")
                .isLessThanOrEqualTo((long) (10_000 * (report.minutes() + 1)));
    }
}
