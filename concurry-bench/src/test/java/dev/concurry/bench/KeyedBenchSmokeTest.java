package dev.concurry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collection;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** CI runs KeyedBench only this way: every method once, in-process, on 1,000 keys for 100 ms. */
class KeyedBenchSmokeTest {

    @Test
    void everyKeyedBenchmarkRunsAndReports() throws Exception {
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include("^" + KeyedBench.class.getName().replace(".", "\\.") + "\\.")
                .param("keys", "1000")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(100)).build()).run();
        // singleSet and bucket4jPerKey per distribution, keyed per distribution and evictIdleAfter.
        assertThat(results).hasSize(2 + 2 + 4);
        assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
    }

    @Test
    void theZipfDrawIsSkewedAndTheUniformOneIsNot() {
        int keys = 10_000;
        int[] zipf = KeyedBench.draws("zipf", keys, 100_000, 1);
        int[] uniform = KeyedBench.draws("uniform", keys, 100_000, 1);
        // Exponent 1 over 10,000 keys: the top 1% (100 keys) get H(100) / H(10,000) = 5.19 / 9.79 = 53%.
        assertThat(share(zipf, 100)).isBetween(0.50, 0.56);
        assertThat(share(uniform, 100)).isBetween(0.005, 0.015);
    }

    private static double share(int[] draws, int top) {
        long n = java.util.Arrays.stream(draws).filter(i -> i < top).count();
        return n / (double) draws.length;
    }
}
