package dev.concurry.cli;

import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.worker.Mode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Listening to the provider (SPEC F2–F3): the user configured twice the provider's real quota (500
 * requests and 10,000 tokens per minute; the provider allows 250 and 5,000), and another client outside
 * the workers spends part of that quota on the same key. The same workload runs twice against a fresh
 * provider: once with workers that ignore the provider's headers, once with workers that report them
 * ({@code acq.observe(ProviderHeaders.openAi(...))}), so that the set keeps within what remains and
 * pauses on a 429.
 */
final class FeedbackScenario {
    static final int REAL_REQUESTS_PER_MINUTE = LlmScenario.REQUESTS_PER_MINUTE / 2;
    static final int REAL_TOKENS_PER_MINUTE = LlmScenario.TOKENS_PER_MINUTE / 2;
    /** Calls per minute of the client outside the workers: about 1,200 tokens, a quarter of the quota. */
    static final int OTHER_CALLS_PER_MINUTE = 12;

    /** One run: the workers' calls and what the provider served everyone. */
    record Run(boolean listening, Duration minute, Duration duration, long startNanos, List<LlmWorker.Outcome> outcomes,
            List<long[]> served, long otherCalls, long otherRejected) {

        long calls() {
            return outcomes.size();
        }

        long rejected() {
            return outcomes.stream().filter(o -> o.status() == 429).count();
        }

        /** The workers' calls granted after the first minute (once the set could have heard the provider). */
        long callsAfterFirstMinute() {
            return outcomes.stream().filter(o -> o.grantedAt() >= startNanos + minute.toNanos()).count();
        }

        long rejectedAfterFirstMinute() {
            return outcomes.stream().filter(o -> o.grantedAt() >= startNanos + minute.toNanos() && o.status() == 429)
                    .count();
        }

        /** 429s among the workers' calls after the first minute, as a fraction of those calls. */
        double rejectionRateAfterFirstMinute() {
            long calls = callsAfterFirstMinute();
            return calls == 0 ? 0 : (double) rejectedAfterFirstMinute() / calls;
        }

        /** Tokens the provider served to everyone after the first minute, over its real quota for that time. */
        double utilizationAfterFirstMinute() {
            long from = startNanos + minute.toNanos();
            long to = startNanos + duration.toNanos();
            long tokens = served.stream().filter(e -> e[0] >= from && e[0] < to).mapToLong(e -> e[1]).sum();
            return tokens / (REAL_TOKENS_PER_MINUTE * (double) (to - from) / minute.toNanos());
        }

        double[][] servedPerMinuteOverTime(Duration step) {
            return LlmScenario.trailingSums(served, startNanos, duration, minute, step);
        }

        /** The workers' 429 answers in the trailing minute (counted when their call was granted). */
        double[][] rejectedPerMinuteOverTime(Duration step) {
            List<long[]> refused = outcomes.stream().filter(o -> o.status() == 429)
                    .map(o -> new long[] {o.grantedAt(), 1}).toList();
            return LlmScenario.trailingSums(refused, startNanos, duration, minute, step);
        }
    }

    /** Both runs. */
    record Result(int workers, Mode mode, Run without, Run with) {

        void print(PrintWriter out) {
            Duration minute = with.minute();
            out.printf("%n  Listening to the provider: %d %s workers configured for %d requests + %d tokens per minute;"
                    + "%n  the provider allows %d + %d, and another client spends ~%d tokens of it; 1 minute = %.1f s%n",
                    workers, mode, LlmScenario.REQUESTS_PER_MINUTE, LlmScenario.TOKENS_PER_MINUTE,
                    REAL_REQUESTS_PER_MINUTE, REAL_TOKENS_PER_MINUTE,
                    OTHER_CALLS_PER_MINUTE * (LlmScenario.MIN_TOKENS + LlmScenario.MAX_TOKENS) / 2,
                    minute.toMillis() / 1000.0);
            out.printf("  %-44s %18s %18s%n", "", "without feedback", "with feedback");
            out.printf("  %-44s %18d %18d%n", "calls made by the workers", without.calls(), with.calls());
            out.printf("  %-44s %18d %18d%n", "answered 429", without.rejected(), with.rejected());
            out.printf("  %-44s %18s %18s%n", "429s after the first minute", share(without), share(with));
            out.printf("  %-44s %17.1f%% %17.1f%%%n", "utilisation of the real quota after it",
                    100 * without.utilizationAfterFirstMinute(), 100 * with.utilizationAfterFirstMinute());
            out.printf("  %-44s %18s %18s%n", "the other client's calls refused",
                    without.otherRejected() + " of " + without.otherCalls(),
                    with.otherRejected() + " of " + with.otherCalls());
            out.flush();
        }

        private static String share(Run run) {
            return String.format(java.util.Locale.ROOT, "%d (%.1f%%)", run.rejectedAfterFirstMinute(),
                    100 * run.rejectionRateAfterFirstMinute());
        }
    }

    private final int workers;
    private final Mode mode;
    private final Duration duration;
    private final Duration minute;

    FeedbackScenario(int workers, Mode mode, Duration duration, Duration minute) {
        this.workers = workers;
        this.mode = mode;
        this.duration = duration;
        this.minute = minute;
    }

    Result run() throws IOException, InterruptedException {
        Run without = run(false);
        Run with = run(true);
        return new Result(workers, mode, without, with);
    }

    private Run run(boolean listening) throws IOException, InterruptedException {
        try (LimitSet limits = LimitSet.builder()
                .add(RateLimit.of("requests", LlmScenario.REQUESTS_PER_MINUTE, minute))
                .add(RateLimit.of("tokens", LlmScenario.TOKENS_PER_MINUTE, minute))
                .build();
                FakeLlmServer server = FakeLlmServer.exact(0, minute, REAL_REQUESTS_PER_MINUTE, REAL_TOKENS_PER_MINUTE,
                        LlmScenario.MIN_TOKENS, LlmScenario.MAX_TOKENS, Duration.ofMillis(15));
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            LlmScenario.warmUp(http, server.port(), workers);
            long start = System.nanoTime();
            long deadline = start + duration.toNanos();
            AtomicLong otherCalls = new AtomicLong();
            AtomicLong otherRejected = new AtomicLong();
            Thread other = Thread.ofVirtual().name("other-client").start(
                    () -> otherClient(http, server.uri(), start, deadline, otherCalls, otherRejected));
            List<LlmWorker.Outcome> outcomes = LlmScenario.callUntil(http, Map.of("default", server.uri()), limits,
                    workers, mode, deadline, "feedback " + (listening ? "with" : "without") + " feedback", listening);
            other.join();
            return new Run(listening, minute, duration, start, outcomes, server.served(), otherCalls.get(),
                    otherRejected.get());
        }
    }

    /** A client on the same API key that knows nothing of the workers: a call every 1/12 minute. */
    private void otherClient(HttpClient http, URI uri, long start, long deadline, AtomicLong calls,
            AtomicLong rejected) {
        long period = minute.toNanos() / OTHER_CALLS_PER_MINUTE;
        long next = start + ThreadLocalRandom.current().nextLong(period);
        while (next < deadline) {
            LockSupport.parkNanos(next - System.nanoTime());
            try {
                HttpResponse<Void> response = http.send(HttpRequest.newBuilder(uri)
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"other\"}")).build(),
                        HttpResponse.BodyHandlers.discarding());
                calls.incrementAndGet();
                if (response.statusCode() == 429) {
                    rejected.incrementAndGet();
                }
            } catch (IOException e) {
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            next += period;
        }
    }
}
