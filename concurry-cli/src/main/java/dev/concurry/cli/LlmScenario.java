package dev.concurry.cli;

import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.RateLimit;
import dev.concurry.progress.Progress;
import dev.concurry.progress.ProgressTracker;
import dev.concurry.worker.Futures;
import dev.concurry.worker.Mode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerPool;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The seed's Scenario 1 ("OpenAI tier 1": 500 requests and 10,000 tokens per minute) against a local
 * server that enforces those limits itself, with a minute scaled down to a few seconds. A pool of
 * {@link LlmWorker}s shares one LimitSet; each call reserves its maximum tokens, then settles to the
 * tokens the server reports (reserve-then-update), so the limit is used fully and never exceeded.
 */
final class LlmScenario {
    static final int REQUESTS_PER_MINUTE = 500;
    static final int TOKENS_PER_MINUTE = 10_000;
    static final int MIN_TOKENS = 40;
    static final int MAX_TOKENS = 160;

    /** What one run measured. */
    record Result(boolean limited, int workers, Mode mode, Duration minute, Duration duration, Duration elapsed,
            long startNanos, List<LlmWorker.Outcome> outcomes) {

        long calls() {
            return outcomes.size();
        }

        long ok() {
            return outcomes.stream().filter(o -> o.status() == 200).count();
        }

        long rejected() {
            return outcomes.stream().filter(o -> o.status() == 429).count();
        }

        long tokens() {
            return outcomes.stream().mapToLong(LlmWorker.Outcome::tokens).sum();
        }

        /**
         * Tokens used against the most the limit admits while calls are started: a sliding window of one
         * minute admits its capacity once per window begun.
         */
        double utilization() {
            return tokens() / (TOKENS_PER_MINUTE * windows());
        }

        double windows() {
            return Math.ceil((double) duration.toNanos() / minute.toNanos());
        }

        /**
         * Tokens used in the trailing (scaled) minute, sampled every {@code step}: the admitted rate over
         * time, to compare with the limit. Each call counts from the moment its worker was granted.
         */
        double[][] tokensPerMinuteOverTime(Duration step) {
            List<long[]> served = outcomes.stream().filter(o -> o.tokens() > 0)
                    .map(o -> new long[] {o.grantedAt(), o.tokens()}).toList();
            return trailingSums(served, startNanos, elapsed, minute, step);
        }

        void print(PrintWriter out) {
            out.printf("%n  LLM API, %s: %d %s workers, 1 minute = %.1f s, limits %d requests + %d tokens per minute%n",
                    limited ? "with Concurry limits" : "WITHOUT limits", workers, mode, minute.toMillis() / 1000.0,
                    REQUESTS_PER_MINUTE,
                    TOKENS_PER_MINUTE);
            out.printf("  %-34s %10d%n", "calls made", calls());
            out.printf("  %-34s %10d%n", "answered 200", ok());
            out.printf("  %-34s %10d%n", "answered 429 (rate limited)", rejected());
            out.printf("  %-34s %10d  (limit %d per minute, %.0f minutes)%n", "tokens used", tokens(),
                    TOKENS_PER_MINUTE, windows());
            out.printf("  %-34s %9.1f%%%n", "utilisation of the token limit", 100 * utilization());
            out.flush();
        }
    }

    /**
     * The sum of the values of {@code entries} ({time in {@link System#nanoTime()}, value}) over the
     * trailing {@code window}, sampled every {@code step} from {@code start} for {@code elapsed}: x in
     * seconds since the start, y the sum.
     */
    static double[][] trailingSums(List<long[]> entries, long start, Duration elapsed, Duration window, Duration step) {
        List<long[]> sorted = entries.stream().sorted(Comparator.comparingLong(e -> e[0])).toList();
        int samples = (int) (elapsed.toNanos() / step.toNanos()) + 1;
        double[][] xy = new double[2][samples];
        int first = 0;
        int next = 0;
        long sum = 0;
        for (int i = 0; i < samples; i++) {
            long t = start + i * step.toNanos();
            while (next < sorted.size() && sorted.get(next)[0] <= t) {
                sum += sorted.get(next++)[1];
            }
            while (first < next && sorted.get(first)[0] + window.toNanos() <= t) {
                sum -= sorted.get(first++)[1];
            }
            xy[0][i] = (t - start) / 1e9;
            xy[1][i] = sum;
        }
        return xy;
    }

    private final int workers;
    private final Mode mode;
    private final Duration duration;
    private final Duration minute;
    private final boolean limited;
    private final int port;

    LlmScenario(int workers, Mode mode, Duration duration, Duration minute, boolean limited, int port) {
        this.workers = workers;
        this.mode = mode;
        this.duration = duration;
        this.minute = minute;
        this.limited = limited;
        this.port = port;
    }

    Result run() throws IOException, InterruptedException {
        try (LimitSet limits = limited
                ? LimitSet.builder()
                        .add(RateLimit.of("requests", REQUESTS_PER_MINUTE, minute))
                        .add(RateLimit.of("tokens", TOKENS_PER_MINUTE, minute))
                        .build()
                : LimitSet.empty();
                FakeLlmServer server = new FakeLlmServer(port, minute, REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE,
                        MIN_TOKENS, MAX_TOKENS, Duration.ofMillis(15));
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            warmUp(http, server.port(), workers);
            Map<String, URI> endpoints = Map.of("default", server.uri());
            long start = System.nanoTime();
            List<LlmWorker.Outcome> outcomes = callUntil(http, endpoints, limits, workers, mode,
                    start + duration.toNanos(),
                    "llm " + (limited ? "with limits" : "without limits"));
            return new Result(limited, workers, mode, minute, duration, Duration.ofNanos(System.nanoTime() - start),
                    start,
                    outcomes);
        }
    }

    /**
     * Keeps a pool of {@code workers} LlmWorkers busy until {@code deadline}, with a progress bar of the
     * run's time (elapsed, remaining) and the calls done, and returns every call's outcome.
     */
    static List<LlmWorker.Outcome> callUntil(HttpClient http, Map<String, URI> endpoints, Limiter limits, int workers,
            Mode mode, long deadline, String description) {
        return callUntil(http, endpoints, limits, workers, mode, deadline, description, false);
    }

    /** As above; {@code listen}: the workers report the API's rate-limit headers to the set. */
    static List<LlmWorker.Outcome> callUntil(HttpClient http, Map<String, URI> endpoints, Limiter limits, int workers,
            Mode mode, long deadline, String description, boolean listen) {
        try (WorkerPool<LlmWorker> pool = Worker.options(LlmWorker.class)
                .mode(mode).maxWorkers(workers).maxQueuedTasks(2).limits(limits).name("demo")
                .init(() -> new LlmWorker(http, endpoints, listen))) {
            return keepBusy(pool, deadline, description);
        }
    }

    /**
     * Keeps {@code pool} busy with {@code generate} calls until {@code deadline}, with a progress bar of the
     * run's time (elapsed, remaining) and the calls done, and returns every call's outcome. The call
     * returns a plain outcome (null when none was granted in time), which crosses to and from cluster
     * members.
     */
    static List<LlmWorker.Outcome> keepBusy(WorkerPool<LlmWorker> pool, long deadline, String description) {
        List<CompletableFuture<LlmWorker.Outcome>> calls = new ArrayList<>();
        try (ProgressTracker progress = Progress.bar(description)
                .startFor(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
            while (System.nanoTime() < deadline) {
                CompletableFuture<LlmWorker.Outcome> call = pool.submit(w -> w.generate(deadline).orElse(null));
                call.whenComplete((outcome, failure) -> progress.step());
                calls.add(call);                       // submit blocks while the workers' queues are full
            }
            return Futures.gather(calls).stream().filter(java.util.Objects::nonNull).toList();
        }
    }

    /** Opens connections and compiles the HTTP path before the measured run (not counted by the server). */
    static void warmUp(HttpClient http, int serverPort, int workers) throws IOException, InterruptedException {
        HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serverPort + "/health")).build();
        try (ExecutorService warm = Executors.newFixedThreadPool(workers)) {
            for (int i = 0; i < workers * 20; i++) {
                warm.submit(() -> http.send(health, HttpResponse.BodyHandlers.discarding()));
            }
        }
    }
}
