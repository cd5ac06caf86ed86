package dev.concurry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;

/**
 * CI's check of the N4b benchmarks: each {@link N4bHazelcast} benchmark once, in-process, for 100 ms on 8
 * threads against its own one-member cluster (a member JVM). It checks that they run, every call succeeds
 * (the benchmarks throw otherwise) and the report is built, not how fast.
 */
class HazelcastBenchmarkSmokeTest {

    @Test
    void everyHazelcastBenchmarkRunsOnceAndReports() throws Exception {
        Collection<RunResult> results = new Runner(HazelcastReport.options("smoke").build()).run();

        Map<String, RedisReport.Row> rows = RedisReport.rows(results, List.of());
        assertThat(rows).containsOnlyKeys("concurryGcra", "concurryTokenBucket", "concurrySlidingWindow",
                "bucket4jHazelcast", "ceilingNoop", "ceilingNoopWrite");
        assertThat(rows.values()).allSatisfy(r -> assertThat(r.opsPerSecond()).isPositive());
        assertThat(HazelcastReport.table(results)).contains("| concurryGcra |").contains("÷ Bucket4j")
                .contains("N4b ≥ 3× Bucket4j Hazelcast");
    }
}
