package dev.concurry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.progress.Progress;
import dev.concurry.retry.Backoff;
import dev.concurry.retry.RetryPolicy;
import dev.concurry.worker.Futures;
import dev.concurry.worker.Mode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerPool;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The README's scenarios, as written there, so that the README stays true. */
class ReadmeExamplesTest {

    record Completion(String text, int totalTokens) {
        boolean isValidJson() {
            return text.startsWith("{");
        }
    }

    /** Stands in for an LLM API client. */
    static final class LlmClient {
        Completion complete(String prompt) {
            return new Completion("{\"echo\":\"" + prompt + "\"}", 120);
        }
    }

    public static class AiWorker extends Worker {
        private final LlmClient client;

        public AiWorker(LlmClient client) {
            this.client = client;
        }

        public Completion generate(String prompt) {
            try (Acquisition acq = limits().acquire(Request.of("requests", 1).and("tokens", 100))) {
                Completion c = client.complete(prompt);
                acq.update("tokens", c.totalTokens());
                return c;
            }
        }
    }

    @Test
    void scenario_1_ten_thread_workers_share_500_requests_and_10000_tokens_per_minute() {
        LimitSet limits = LimitSet.builder()
                .add(RateLimit.of("requests", 500, Duration.ofMinutes(1)))
                .add(RateLimit.of("tokens", 10_000, Duration.ofMinutes(1)))
                .build();
        LlmClient client = new LlmClient();
        List<String> prompts = IntStream.range(0, 20).mapToObj(i -> "prompt " + i).toList();

        try (WorkerPool<AiWorker> pool = Worker.options(AiWorker.class)
                .mode(Mode.THREAD).maxWorkers(10).limits(limits)
                .init(() -> new AiWorker(client))) {
            CompletableFuture<Completion> one = pool.submit(w -> w.generate("Hello"));
            List<Completion> all = Futures.gather(
                    prompts.stream().map(p -> pool.submit(w -> w.generate(p))).toList(),
                    Progress.bar("generating"));

            assertThat(one.join().text()).contains("Hello");
            assertThat(all).hasSize(20);
        }
        // 21 calls of 120 tokens each: the reservations of 100 were settled to the actual usage
        assertThat(limits.stats().key("tokens").inUse()).isEqualTo(21 * 120);
        assertThat(limits.stats().key("requests").inUse()).isEqualTo(21);
    }

    public static class DbWorker extends Worker {
        static final AtomicInteger inside = new AtomicInteger();
        static final AtomicInteger most = new AtomicInteger();

        public List<String> query(String sql) throws InterruptedException {
            try (Acquisition conn = limits().acquire(Request.of("db_conn", 1))) {
                most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                Thread.sleep(2);
                inside.decrementAndGet();
                return List.of(sql);
            }
        }
    }

    @Test
    void scenario_2_twenty_workers_never_hold_more_than_5_connections() {
        List<String> queries = IntStream.range(0, 100).mapToObj(i -> "select " + i).toList();

        try (WorkerPool<DbWorker> pool = Worker.options(DbWorker.class)
                .mode(Mode.THREAD).maxWorkers(20)
                .limits(ResourceLimit.of("db_conn", 5))
                .init(DbWorker::new)) {
            List<List<String>> rows = Futures.gather(queries.stream().map(q -> pool.submit(w -> w.query(q))).toList());
            assertThat(rows).hasSize(100);
        }
        assertThat(DbWorker.most.get()).isBetween(1, 5);
    }

    public static class GlobalWorker extends Worker {
        public String process() {
            try (Acquisition acq = limits().acquire(Request.of("tpm", 10))) {
                return callApi(acq.config().get("region"));
            }
        }

        private static String callApi(String region) {
            return region;
        }
    }

    @Test
    void multi_region_a_limit_pool_reports_the_region_it_chose() {
        LimitSet usEast = LimitSet.builder().add(RateLimit.of("tpm", 1000, Duration.ofMinutes(1)))
                .config(Map.of("region", "us-east-1")).build();
        LimitSet euWest = LimitSet.builder().add(RateLimit.of("tpm", 1000, Duration.ofMinutes(1)))
                .config(Map.of("region", "eu-west-1")).build();
        LimitPool regions = LimitPool.of(usEast, euWest);

        try (WorkerPool<GlobalWorker> pool = Worker.options(GlobalWorker.class).limits(regions)
                .init(GlobalWorker::new)) {
            List<String> used = IntStream.range(0, 10).mapToObj(i -> pool.call(GlobalWorker::process)).toList();
            assertThat(used).contains("us-east-1", "eu-west-1");
        }
    }

    @Test
    void retries_the_readme_policy_compiles_and_retries() {
        RetryPolicy<Completion> retry = RetryPolicy.<Completion>builder()
                .maxAttempts(5).retryOn(IOException.class)
                .backoff(Backoff.EXPONENTIAL, Duration.ofMillis(1)).maxWait(Duration.ofMillis(30)).jitter(0.3)
                .retryUntil(c -> c.isValidJson())
                .build();
        AtomicInteger attempts = new AtomicInteger();
        try (WorkerPool<AiWorker> pool = Worker.options(AiWorker.class).mode(Mode.VIRTUAL)
                .init(() -> new AiWorker(new LlmClient()))) {
            Completion c = pool.submit(retry, w -> attempts.incrementAndGet() < 3
                    ? new Completion("not json", 1)
                    : w.generate("ok")).join();
            assertThat(c.isValidJson()).isTrue();
        }
        assertThat(attempts).hasValue(3);
    }
}
