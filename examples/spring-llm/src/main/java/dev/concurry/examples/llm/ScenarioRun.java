package dev.concurry.examples.llm;

import dev.concurry.limit.LimitSet;
import dev.concurry.worker.TaskExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.stereotype.Component;

/**
 * Runs the scenario once the application is up: the ten {@code llm} workers call the provider for
 * {@code example.seconds}, then the report is printed (and kept in {@link #report()}).
 */
@Component
class ScenarioRun implements ApplicationRunner {
    private final LlmClient client;
    private final TaskExecutor workers;
    private final LimitSet openai;
    private final MockProvider provider;
    private final ConfigurableApplicationContext context;
    private final Duration length;
    private final Duration minute;
    private final int maxTokens;
    private final boolean exit;
    private volatile Report report;

    /** What a run did. */
    record Report(long calls, long answered, long tooMany, long tokens, double minutes, double utilisation) {
    }

    ScenarioRun(LlmClient client, @Qualifier("llm") TaskExecutor workers, @Qualifier("openai") LimitSet openai,
            MockProvider provider, ConfigurableApplicationContext context,
            @Value("${example.seconds}") int seconds, @Value("${example.minute}") Duration minute,
            @Value("${example.max-tokens}") int maxTokens, @Value("${example.exit}") boolean exit) {
        this.client = client;
        this.workers = workers;
        this.openai = openai;
        this.provider = provider;
        this.context = context;
        this.length = Duration.ofSeconds(seconds);
        this.minute = minute;
        this.maxTokens = maxTokens;
        this.exit = exit;
    }

    @Override
    public void run(ApplicationArguments args) {
        System.out.printf("%n  Spring Boot LLM example: 10 virtual workers, 1 minute = %s, limits 500 requests"
                + " + 10000 tokens per minute (concurry.limit-sets.openai)%n", minute);
        long start = System.nanoTime();
        long end = start + length.toNanos();
        List<CompletableFuture<Long>> running = new ArrayList<>();
        for (int w = 0; w < 10; w++) {
            int worker = w;
            running.add(workers.submit(() -> {
                long calls = 0;
                while (System.nanoTime() < end) {
                    client.complete("document " + worker + "-" + calls, maxTokens, null);
                    calls++;
                }
                return calls;
            }));
        }
        long calls = running.stream().mapToLong(CompletableFuture::join).sum();
        // Calls started before the end may be granted after it: the run lasts until the last one.
        double minutes = (double) (System.nanoTime() - start) / minute.toNanos();
        long tokens = provider.tokensUsed.get();
        report = new Report(calls, provider.ok.get(), provider.tooMany.get(), tokens, minutes,
                tokens / (10_000 * minutes));
        System.out.printf("  calls made                         %8d%n", report.calls());
        System.out.printf("  answered 200                       %8d%n", report.answered());
        System.out.printf("  answered 429 (rate limited)        %8d%n", report.tooMany());
        System.out.printf("  tokens used                        %8d  (limit 10000 per minute, %.1f minutes)%n",
                report.tokens(), minutes);
        System.out.printf("  utilisation of the token limit     %7.1f%%%n", report.utilisation() * 100);
        System.out.printf("  tokens refunded by settlement      %8.0f%n", openai.stats().key("tokens").refunded());
        if (exit) {
            System.exit(SpringApplication.exit(context, () -> 0));
        }
        System.out
                .println("  still running: curl localhost:" + context.getEnvironment().getProperty("local.server.port")
                        + "/actuator/concurry");
    }

    /** The last run's report, or null before the run ended. */
    Report report() {
        return report;
    }
}
