package dev.concurry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;

/**
 * CI does not run the benchmarks, only this smoke test: every JMH benchmark once, in-process, for
 * 100 ms, and a short accuracy run. It checks that they run and report, not how fast.
 */
class BenchmarkSmokeTest {

    @Test
    void everyBenchmarkRunsAndReports() throws Exception {
        Collection<RunResult> results = new Runner(Report.options("smoke").build()).run();

        Map<String, Report.Score> scores = Report.scores(results);
        assertThat(scores).hasSize(2 * 8 + 2 * 3 + 2 + 2 * 9);
        assertThat(scores.values()).allSatisfy(s -> assertThat(s.ns()).isPositive());
        assertThat(scores).containsKeys("N1OneThread.concurryTokenBucket", "N1OneThread.concurryTokenBucketWithMetrics",
                "N1TwoThreads.resilience4jAtomic",
                "N2OneThread.concurryAtomic", "N2TwoThreads.peersByHand", "N3SingleJvm.concurryTokenBucket",
                "N3TwoJvms.concurryTokenBucket", "N6Call.thread1", "N6Call.executorVirtual", "N6Batch.virtual2",
                "N6Batch.executorFixed2");
        // The N3 trial started its second JVM, which hammered the file, and stopped it cleanly.
        SharedMemoryBench.ChildRun child = SharedMemoryBench.lastChild();
        assertThat(child).isNotNull();
        assertThat(child.exitCode()).isZero();
        assertThat(child.operations()).isPositive();
        String tables = Report.tables(results);
        assertThat(tables).contains("| concurryTokenBucket |").contains("N2 (atomic 3 limits < 3 separate)")
                .contains("| N3TwoJvms |").contains("N3 (shared memory").contains("| thread1 |")
                .contains("N6 N6Batch.virtual2");
    }

    @Test
    void accuracyRunReportsEveryLimiterAndTheSlidingWindowNeverOverAdmits() throws Exception {
        List<Accuracy.Result> results = Accuracy.runAll(Duration.ofMillis(250), 2, 100, Duration.ofMillis(100));

        assertThat(results).hasSize(8);
        assertThat(results).allSatisfy(r -> assertThat(r.admitted()).isPositive());
        Accuracy.Result sliding = results.get(0);
        assertThat(sliding.name()).isEqualTo("concurry SLIDING_WINDOW");
        // Proven: these admissions happened, by the thread's own timestamps, within one window.
        assertThat(sliding.maxProven()).isLessThanOrEqualTo(100);
    }

    @Test
    @DisplayName("A1 N5 the many-grants rows: >= 98% utilisation and never over capacity at thousands of grants per window")
    void manyGrantsPerWindowRowsMeetN5() {
        List<Accuracy.Saturation> rows = Accuracy.manyGrantsPerWindow(20, 10);

        assertThat(rows).hasSize(5);
        assertThat(rows).allSatisfy(r -> {
            assertThat(r.mostInWindow()).as(r.line()).isLessThanOrEqualTo(r.capacity() * (1 + 1e-9));
            assertThat(r.utilisation()).as(r.line()).isGreaterThanOrEqualTo(0.98);
        });
        // 5,000 per minute for 20 minutes: far more grants in one window than the ring has entries.
        assertThat(rows.get(1).grants()).isGreaterThan(20 * 4_000);
    }

    @Test
    void windowBoundsCountWhatTheyPromise() {
        long[][] intervals = {{0, 1}, {5, 6}, {9, 30}, {12, 13}};
        assertThat(Accuracy.maxProven(intervals, 10)).isEqualTo(2);     // [0,10) holds {0,1},{5,6}
        assertThat(Accuracy.maxPossible(intervals, 10)).isEqualTo(3);   // [6,16) touches 3 of them
    }
}
