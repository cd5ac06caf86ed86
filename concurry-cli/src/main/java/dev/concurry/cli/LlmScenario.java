package dev.concurry.cli;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The seed's Scenario 1 ("OpenAI tier 1": 500 requests and 10,000 tokens per minute) against a local
 * server that enforces those limits itself, with a minute scaled down to a few seconds. Each call
 * reserves its maximum tokens, then settles to the tokens the server reports (reserve-then-update),
 * so the limit is used fully and never exceeded.
 */
final class LlmScenario {
    static final int REQUESTS_PER_MINUTE = 500;
    static final int TOKENS_PER_MINUTE = 10_000;
    static final int MIN_TOKENS = 40;
    static final int MAX_TOKENS = 160;
    private static final Pattern TOTAL_TOKENS = Pattern.compile("\"total_tokens\":(\\d+)");

    /** What one run measured. */
    record Result(boolean limited, int workers, Duration minute, Duration elapsed, long calls, long ok,
                  long rejected, long tokens, long startNanos, List<long[]> served) {

        /** The most tokens a sliding window of one minute can admit over the run: capacity per window begun. */
        double utilization() {
            return tokens / (TOKENS_PER_MINUTE * Math.ceil((double) elapsed.toNanos() / minute.toNanos()));
        }

        /**
         * Tokens used in the trailing (scaled) minute, sampled every {@code step}: the admitted rate over
         * time, to compare with the limit. Each call counts from the moment its worker was granted.
         */
        double[][] tokensPerMinuteOverTime(Duration step) {
            long window = minute.toNanos();
            int samples = (int) (elapsed.toNanos() / step.toNanos()) + 1;
            double[][] xy = new double[2][samples];
            int first = 0;
            int next = 0;
            long sum = 0;
            for (int i = 0; i < samples; i++) {
                long t = startNanos + i * step.toNanos();
                while (next < served.size() && served.get(next)[0] <= t) {
                    sum += served.get(next++)[1];
                }
                while (first < next && served.get(first)[0] + window <= t) {
                    sum -= served.get(first++)[1];
                }
                xy[0][i] = (t - startNanos) / 1e9;
                xy[1][i] = sum;
            }
            return xy;
        }

        /** Tokens served per (scaled) minute, on average over the run. */
        double tokensPerMinute() {
            return tokens * (double) minute.toNanos() / elapsed.toNanos();
        }

        void print(PrintWriter out) {
            out.printf("%n  LLM API, %s: %d workers, 1 minute = %s, limits %d requests + %d tokens per minute%n",
                    limited ? "with Concurry limits" : "WITHOUT limits", workers, minute, REQUESTS_PER_MINUTE,
                    TOKENS_PER_MINUTE);
            out.printf("  %-34s %10d%n", "calls made", calls);
            out.printf("  %-34s %10d%n", "answered 200", ok);
            out.printf("  %-34s %10d%n", "answered 429 (rate limited)", rejected);
            out.printf("  %-34s %10.0f  (limit %d)%n", "tokens served per minute", tokensPerMinute(),
                    TOKENS_PER_MINUTE);
            out.printf("  %-34s %9.1f%%  (of the most the limit allows in %.0f windows)%n", "utilisation of the token limit",
                    100 * utilization(), Math.ceil((double) elapsed.toNanos() / minute.toNanos()));
            out.flush();
        }
    }

    private final int workers;
    private final Duration duration;
    private final Duration minute;
    private final boolean limited;
    private final int port;

    LlmScenario(int workers, Duration duration, Duration minute, boolean limited, int port) {
        this.workers = workers;
        this.duration = duration;
        this.minute = minute;
        this.limited = limited;
        this.port = port;
    }

    Result run() throws IOException, InterruptedException {
        LimitSet limits = limited
                ? LimitSet.builder()
                        .add(RateLimit.of("requests", REQUESTS_PER_MINUTE, minute))
                        .add(RateLimit.of("tokens", TOKENS_PER_MINUTE, minute))
                        .build()
                : LimitSet.empty();
        Request reserve = Request.of("requests", 1).and("tokens", MAX_TOKENS);
        AtomicLong calls = new AtomicLong();
        AtomicLong ok = new AtomicLong();
        AtomicLong tokens = new AtomicLong();
        java.util.Queue<long[]> grants = new java.util.concurrent.ConcurrentLinkedQueue<>();
        try (FakeLlmServer server = new FakeLlmServer(port, minute, REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE,
                MIN_TOKENS, MAX_TOKENS, Duration.ofMillis(15));
             HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
             ExecutorService pool = Executors.newFixedThreadPool(workers)) {
            HttpRequest call = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/complete"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"Hello\",\"max_tokens\":" + MAX_TOKENS + "}"))
                    .timeout(Duration.ofSeconds(10))
                    .build();
            warmUp(http, server.port());
            long start = System.nanoTime();
            long end = start + duration.toNanos();
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < workers; i++) {
                running.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        Duration left = Duration.ofNanos(end - System.nanoTime());
                        try (Acquisition acq = limits.acquire(reserve, left.isNegative() ? Duration.ZERO : left)) {
                            long grantedAt = System.nanoTime();
                            calls.incrementAndGet();
                            HttpRequest sent = HttpRequest.newBuilder(call, (name, value) -> true)
                                    .header("X-Sent-At", Long.toString(grantedAt)).build();
                            HttpResponse<String> response = http.send(sent, HttpResponse.BodyHandlers.ofString());
                            if (response.statusCode() == 200) {
                                Matcher m = TOTAL_TOKENS.matcher(response.body());
                                int used = m.find() ? Integer.parseInt(m.group(1)) : MAX_TOKENS;
                                acq.update("tokens", used);        // settle the reservation to actual usage
                                ok.incrementAndGet();
                                tokens.addAndGet(used);
                                grants.add(new long[] {grantedAt, used});
                            } else {
                                acq.update("tokens", 0);           // rejected: no tokens were consumed
                            }
                        } catch (dev.concurry.limit.AcquireTimeoutException e) {
                            return null;                           // the run is over
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException("a demo worker failed: " + e.getCause(), e.getCause());
                }
            }
            Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
            return new Result(limited, workers, minute, elapsed, calls.get(), ok.get(), server.rejected(),
                    tokens.get(), start, grants.stream().sorted(java.util.Comparator.comparingLong(g -> g[0])).toList());
        } finally {
            limits.close();
        }
    }

    /** Opens connections and compiles the HTTP path before the measured run (not counted by the server). */
    private void warmUp(HttpClient http, int serverPort) throws IOException, InterruptedException {
        HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serverPort + "/health")).build();
        try (ExecutorService warm = Executors.newFixedThreadPool(workers)) {
            for (int i = 0; i < workers * 20; i++) {
                warm.submit(() -> http.send(health, HttpResponse.BodyHandlers.discarding()));
            }
        }
    }
}
