package dev.concurry.cli;

import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitPoolStats;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.worker.Mode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The seed's multi-region example: two local API endpoints, each enforcing its own quota, behind one
 * {@link LimitPool}. The pool sends each call to the region with the most quota left and fails over
 * when one is exhausted, so the split follows the quotas and no region answers 429.
 */
final class RegionsScenario {
    /** Requests and tokens per minute of each region. */
    static final Map<String, int[]> QUOTAS = quotas();

    private static Map<String, int[]> quotas() {
        Map<String, int[]> quotas = new LinkedHashMap<>();
        quotas.put("us-east-1", new int[] {500, 10_000});
        quotas.put("eu-west-1", new int[] {250, 5_000});
        return quotas;
    }

    /** What one run measured. */
    record Result(boolean limited, int workers, Duration minute, Duration duration,
            List<LlmWorker.Outcome> outcomes, long failovers) {

        long rejected() {
            return outcomes.stream().filter(o -> o.status() == 429).count();
        }

        long calls(String region) {
            return outcomes.stream().filter(o -> o.region().equals(region)).count();
        }

        long rejected(String region) {
            return outcomes.stream().filter(o -> o.region().equals(region) && o.status() == 429).count();
        }

        long tokens(String region) {
            return outcomes.stream().filter(o -> o.region().equals(region)).mapToLong(LlmWorker.Outcome::tokens).sum();
        }

        /** Tokens used against the most the region's quota admits while calls are started. */
        double utilization(String region) {
            double windows = Math.ceil((double) duration.toNanos() / minute.toNanos());
            return tokens(region) / (QUOTAS.get(region)[1] * windows);
        }

        void print(PrintWriter out) {
            out.printf("%n  Two regions, %s: %d workers, 1 minute = %.1f s%n",
                    limited ? "one LimitPool over both quotas" : "WITHOUT limits (round robin)", workers,
                    minute.toMillis() / 1000.0);
            out.printf("  %-12s %18s %8s %8s %10s %12s%n", "region", "quota (tokens/min)", "calls", "429s", "tokens",
                    "utilisation");
            for (Map.Entry<String, int[]> region : QUOTAS.entrySet()) {
                String name = region.getKey();
                out.printf("  %-12s %18d %8d %8d %10d %11.1f%%%n", name, region.getValue()[1], calls(name),
                        rejected(name), tokens(name), 100 * utilization(name));
            }
            if (limited) {
                out.printf("  %-34s %10d%n", "calls sent to another region (failover)", failovers);
            }
            out.flush();
        }
    }

    private final int workers;
    private final Duration duration;
    private final Duration minute;
    private final boolean limited;

    RegionsScenario(int workers, Duration duration, Duration minute, boolean limited) {
        this.workers = workers;
        this.duration = duration;
        this.minute = minute;
        this.limited = limited;
    }

    Result run() throws IOException, InterruptedException {
        List<FakeLlmServer> servers = new ArrayList<>();
        List<LimitSet> sets = new ArrayList<>();
        try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            Map<String, URI> endpoints = new LinkedHashMap<>();
            for (Map.Entry<String, int[]> region : QUOTAS.entrySet()) {
                int[] quota = region.getValue();
                FakeLlmServer server = new FakeLlmServer(0, minute, quota[0], quota[1],
                        LlmScenario.MIN_TOKENS, LlmScenario.MAX_TOKENS, Duration.ofMillis(15));
                servers.add(server);
                endpoints.put(region.getKey(), server.uri());
                LimitSet.Builder set = LimitSet.builder().name(region.getKey()).config("region", region.getKey());
                if (limited) {
                    set.add(RateLimit.of("requests", quota[0], minute)).add(RateLimit.of("tokens", quota[1], minute));
                }
                sets.add(set.build());
                LlmScenario.warmUp(http, server.port(), workers);
            }
            LimitPool pool = limited
                    ? LimitPool.of(sets.toArray(LimitSet[]::new))
                    : LimitPool.builder().addAll(sets).balancing(dev.concurry.limit.PoolBalancing.ROUND_ROBIN).build();
            long start = System.nanoTime();
            List<LlmWorker.Outcome> outcomes = LlmScenario.callUntil(http, endpoints, pool, workers, Mode.THREAD,
                    start + duration.toNanos(), "regions " + (limited ? "with limits" : "without limits"));
            LimitPoolStats stats = pool.poolStats();
            return new Result(limited, workers, minute, duration, outcomes, stats.failovers());
        } finally {
            sets.forEach(LimitSet::close);
            servers.forEach(FakeLlmServer::close);
        }
    }
}
