package dev.concurry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collection;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;

/**
 * CI's check of the N4 benchmarks: each {@link N4Redis} benchmark once, in-process, for 100 ms on
 * 8 threads against its own redis-server (skipped when this machine has none). It checks that they
 * run, every call succeeds (the benchmarks throw otherwise) and the report is built, not how fast.
 */
class RedisBenchmarkSmokeTest {

    @Test
    void everyRedisBenchmarkRunsOnceAndReports() throws Exception {
        Assumptions.assumeTrue(RedisProcess.binary().isPresent(),
                "no redis-server on this machine (apt-get install -y redis-server): N4 smoke test skipped");
        Collection<RunResult> results = new Runner(RedisReport.options("smoke", Mode.Throughput).build()).run();

        Map<String, RedisReport.Row> rows = RedisReport.rows(results, java.util.List.of());
        assertThat(rows).containsOnlyKeys("concurryGcra", "concurryTokenBucket", "concurrySlidingWindow",
                "bucket4jLettuce", "bucket4jLettuceBatching", "redissonRateLimiter", "ceilingReturn1",
                "ceilingMinimalGcra");
        assertThat(rows.values()).allSatisfy(r -> assertThat(r.opsPerSecond()).isPositive());
        assertThat(RedisReport.table(results, java.util.List.of()))
                .contains("| concurryGcra |").contains("÷ Bucket4j").contains("N4 ≥ 3× Redisson");
    }

    @Test
    void theServerIsStoppedOnClose() throws Exception {
        Assumptions.assumeTrue(RedisProcess.binary().isPresent(), "no redis-server on this machine");
        int port;
        try (RedisProcess server = RedisProcess.start()) {
            port = server.port;
            try (var socket = new java.net.Socket("127.0.0.1", port)) {
                assertThat(socket.isConnected()).isTrue();
            }
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new java.net.Socket("127.0.0.1", port).close())
                .isInstanceOf(java.io.IOException.class);
    }
}
