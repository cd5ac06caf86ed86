package dev.concurry.examples.llm;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The seed's LLM scenario as a Spring Boot application: a limit set from {@code application.yml}, a
 * client whose {@code @Limited} method reserves tokens with each request and settles to what the
 * provider reports, ten workers, and a mock provider that answers 429 when its limits are exceeded.
 *
 * <pre>{@code
 * ./mvnw -B -ntp -pl examples/spring-llm -am -DskipTests -Prun verify
 * }</pre>
 */
@SpringBootApplication
public class LlmExampleApplication {

    /** Starts the application, runs the scenario and prints its report. */
    public static void main(String[] args) {
        SpringApplication.run(LlmExampleApplication.class, args);
    }
}
