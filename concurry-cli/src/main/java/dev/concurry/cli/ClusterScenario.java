package dev.concurry.cli;

import com.hazelcast.core.HazelcastInstance;
import dev.concurry.hazelcast.ClusterUnavailableException;
import dev.concurry.hazelcast.HazelcastCluster;
import dev.concurry.hazelcast.LoopbackCluster;
import dev.concurry.hazelcast.LoopbackCluster.MemberProcess;
import dev.concurry.limit.RateLimit;
import dev.concurry.retry.Backoff;
import dev.concurry.retry.RetryPolicy;
import dev.concurry.worker.Futures;
import dev.concurry.worker.Mode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerDiedException;
import dev.concurry.worker.WorkerPool;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The seed's Scenario 1 in cluster mode (the seed's Ray mode): the LLM workers live on the member JVMs of a
 * Hazelcast cluster started on loopback and share one Hazelcast limit set (500 requests and 10,000 tokens
 * per scaled minute), against the same local API that enforces those limits itself. Mid-run one member is
 * killed with {@code kill -9}: the calls of its workers fail with {@link WorkerDiedException} and are retried
 * on the members left, and the set, replicated in the cluster, goes on without over-admitting.
 */
final class ClusterScenario {

    /** What one run measured. */
    record Result(int members, int workers, Duration minute, Duration duration, Duration formation,
            List<LlmWorker.Outcome> outcomes, long killedPid, Duration killedAfter, long failedOver,
            long unavailable) {

        long calls() {
            return outcomes.size();
        }

        long rejected() {
            return outcomes.stream().filter(o -> o.status() == 429).count();
        }

        long tokens() {
            return outcomes.stream().mapToLong(LlmWorker.Outcome::tokens).sum();
        }

        double windows() {
            return Math.ceil((double) duration.toNanos() / minute.toNanos());
        }

        /** Tokens used against the most the limit admits while calls are started. */
        double utilization() {
            return tokens() / (LlmScenario.TOKENS_PER_MINUTE * windows());
        }

        /** Calls made by each member JVM, by pid. */
        Map<Long, Long> callsByMember() {
            return outcomes.stream().collect(Collectors.groupingBy(LlmWorker.Outcome::pid, TreeMap::new,
                    Collectors.counting()));
        }

        void print(PrintWriter out) {
            out.printf(
                    "%n  LLM API, cluster mode: %d workers on %d member JVMs (Hazelcast, loopback, formed in %.1f s),"
                            + " 1 minute = %.1f s, one shared limit set of %d requests + %d tokens per minute%n",
                    workers, members, formation.toMillis() / 1000.0, minute.toMillis() / 1000.0,
                    LlmScenario.REQUESTS_PER_MINUTE, LlmScenario.TOKENS_PER_MINUTE);
            callsByMember().forEach((pid, calls) -> out.printf("  %-34s %10d%s%n", "calls by member JVM " + pid, calls,
                    pid == killedPid ? "  (killed with kill -9 at " + killedAfter.toMillis() / 1000.0 + " s)" : ""));
            out.printf("  %-34s %10d%n", "calls made", calls());
            out.printf("  %-34s %10d  (WorkerDiedException, retried on the members left)%n", "calls failed over",
                    failedOver);
            out.printf("  %-34s %10d  (ClusterUnavailableException while the set failed over, retried)%n",
                    "calls refused by the limits", unavailable);
            out.printf("  %-34s %10d%n", "answered 429 (rate limited)", rejected());
            out.printf("  %-34s %10d  (limit %d per minute, %.0f minutes)%n", "tokens used", tokens(),
                    LlmScenario.TOKENS_PER_MINUTE, windows());
            out.printf("  %-34s %9.1f%%%n", "utilisation of the token limit", 100 * utilization());
            out.flush();
        }
    }

    private final int members;
    private final int workers;
    private final Duration duration;
    private final Duration minute;
    private final int port;

    ClusterScenario(int members, int workers, Duration duration, Duration minute, int port) {
        if (members < 2) {
            throw new IllegalArgumentException(
                    "the cluster demo needs at least 2 members (one is killed), got " + members);
        }
        this.members = members;
        this.workers = workers;
        this.duration = duration;
        this.minute = minute;
        this.port = port;
    }

    Result run() throws IOException, InterruptedException {
        try (FakeLlmServer server = new FakeLlmServer(port, minute, LlmScenario.REQUESTS_PER_MINUTE,
                LlmScenario.TOKENS_PER_MINUTE, LlmScenario.MIN_TOKENS, LlmScenario.MAX_TOKENS, Duration.ofMillis(15));
                LoopbackCluster cluster = LoopbackCluster.builder().embeddedMembers(0).memberProcesses(members)
                        .start()) {
            HazelcastInstance client = cluster.newClient();
            LongAdder failedOver = new LongAdder();
            LongAdder unavailable = new LongAdder();
            // A call lost with its member is retried elsewhere; so is one refused while the set's owner fails over.
            RetryPolicy<Object> retry = RetryPolicy.builder().maxAttempts(5)
                    .backoff(Backoff.FIXED, Duration.ofMillis(100))
                    .retryIf((failure, attempt) -> {
                        if (failure instanceof WorkerDiedException) {
                            failedOver.increment();
                            return true;
                        }
                        if (failure instanceof ClusterUnavailableException) {
                            unavailable.increment();
                            return true;
                        }
                        return false;
                    }).build();
            Map<String, URI> endpoints = Map.of("default", server.uri());
            MemberProcess victim = cluster.memberProcesses().get(members - 1);
            try (WorkerPool<LlmWorker> pool = Worker.options(LlmWorker.class)
                    .mode(Mode.CLUSTER).cluster(HazelcastCluster.of(client))
                    .maxWorkers(workers).maxQueuedTasks(2).retry(retry).name("demo-cluster")
                    .limits(RateLimit.of("requests", LlmScenario.REQUESTS_PER_MINUTE, minute),
                            RateLimit.of("tokens", LlmScenario.TOKENS_PER_MINUTE, minute))
                    .init(() -> new LlmWorker(endpoints))) {
                // The member JVMs have just started: compile their call and HTTP paths before the measured run.
                Futures.gather(IntStream.range(0, 3 * workers).mapToObj(i -> pool.submit(w -> w.warmUp(20))).toList());
                long start = System.nanoTime();
                Duration killAfter = duration.dividedBy(2);
                Thread killer = Thread.ofPlatform().daemon(true).name("demo-kill").start(() -> {
                    try {
                        Thread.sleep(killAfter);
                        victim.kill();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                List<LlmWorker.Outcome> outcomes = LlmScenario.keepBusy(pool, start + duration.toNanos(),
                        "llm on " + members + " members");
                killer.join();
                return new Result(members, workers, minute, duration, cluster.formationTime(), outcomes, victim.pid(),
                        killAfter, failedOver.sum(), unavailable.sum());
            }
        }
    }
}
