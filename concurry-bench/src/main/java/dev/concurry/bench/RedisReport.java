package dev.concurry.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs SPEC N4 ({@link N4Redis}) and prints a Markdown table with the ratios and verdicts: first
 * throughput (ops/s), then latency percentiles (JMH sample time). Used by {@code bench/run.sh redis}.
 *
 * <p>Usage: {@code RedisReport quick|throughput [result-prefix]}: quick runs both modes, throughput
 * only the first; each mode is 1 fork, 2 × 2 s warm-up, 3 × 3 s measurement (about 4 minutes for
 * both). The JMH results go to {@code <prefix>-throughput.json} and {@code <prefix>-latency.json}.
 */
public final class RedisReport {
    static final String[] CONCURRY = {"concurryGcra", "concurryTokenBucket", "concurrySlidingWindow"};
    static final String[] PEERS = {"redissonRateLimiter", "bucket4jLettuce", "bucket4jLettuceBatching",
            "ceilingReturn1",
            "ceilingMinimalGcra"};

    private RedisReport() {
    }

    public static void main(String[] args) throws Exception {
        String profile = args.length > 0 ? args[0] : "quick";
        String prefix = args.length > 1 ? args[1] : null;
        if (!profile.equals("quick") && !profile.equals("throughput")) {
            throw new IllegalArgumentException("unknown profile '" + profile + "'; use quick or throughput");
        }
        ChainedOptionsBuilder throughput = options(profile, Mode.Throughput);
        if (prefix != null) {
            throughput.result(prefix + "-throughput.json").resultFormat(ResultFormatType.JSON);
        }
        Collection<RunResult> rates = new Runner(throughput.build()).run();
        Collection<RunResult> latencies = List.of();
        if (profile.equals("quick")) {
            ChainedOptionsBuilder sample = options(profile, Mode.SampleTime);
            if (prefix != null) {
                sample.result(prefix + "-latency.json").resultFormat(ResultFormatType.JSON);
            }
            latencies = new Runner(sample.build()).run();
        }
        System.out.println();
        System.out.println(table(rates, latencies));
    }

    /**
     * The JMH options of N4 in one mode: quick (1 fork, 2 × 2 s warm-up, 3 × 3 s measurement) or
     * smoke (in-process, one 100 ms iteration). Throughput is in ops/s, sample time in µs.
     */
    public static ChainedOptionsBuilder options(String profile, Mode mode) {
        ChainedOptionsBuilder b = new OptionsBuilder().shouldFailOnError(true)
                .include("^" + N4Redis.class.getName().replace(".", "\\.") + "\\.")
                .mode(mode)
                .timeUnit(mode == Mode.Throughput ? TimeUnit.SECONDS : TimeUnit.MICROSECONDS);
        return switch (profile) {
            case "quick", "throughput" -> b.forks(1).warmupIterations(2).warmupTime(TimeValue.seconds(2))
                    .measurementIterations(3).measurementTime(TimeValue.seconds(3));
            case "smoke" -> b.forks(0).warmupIterations(0).measurementIterations(1)
                    .measurementTime(TimeValue.milliseconds(100)).verbosity(VerboseMode.SILENT);
            default -> throw new IllegalArgumentException("unknown profile '" + profile + "'; use quick or smoke");
        };
    }

    /** One row: ops/s and its 99.9% error; latency percentiles in µs (NaN when not measured). */
    record Row(double opsPerSecond, double error, double p50, double p99, double p999) {
    }

    static Map<String, Row> rows(Collection<RunResult> rates, Collection<RunResult> latencies) {
        Map<String, double[]> sample = new LinkedHashMap<>();
        for (RunResult r : latencies) {
            var stats = r.getPrimaryResult().getStatistics();
            sample.put(method(r),
                    new double[] {stats.getPercentile(50), stats.getPercentile(99), stats.getPercentile(99.9)});
        }
        Map<String, Row> rows = new LinkedHashMap<>();
        for (RunResult r : rates) {
            double[] p = sample.getOrDefault(method(r), new double[] {Double.NaN, Double.NaN, Double.NaN});
            rows.put(method(r),
                    new Row(r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError(), p[0], p[1], p[2]));
        }
        return rows;
    }

    static String method(RunResult r) {
        String benchmark = r.getParams().getBenchmark();
        return benchmark.substring(benchmark.lastIndexOf('.') + 1);
    }

    /** The throughput table with latencies, the ratios and the verdicts on N4. */
    public static String table(Collection<RunResult> rates, Collection<RunResult> latencies) {
        Map<String, Row> rows = rows(rates, latencies);
        StringBuilder out = new StringBuilder();
        out.append("### N4: Redis on loopback, 8 threads, one hot limiter\n\n");
        out.append("| Benchmark | ops/s (8 threads) | p50 µs | p99 µs | p99.9 µs |\n|---|---|---|---|---|\n");
        List<String> all = new ArrayList<>(List.of(CONCURRY));
        all.addAll(List.of(PEERS));
        for (String m : all) {
            Row r = rows.get(m);
            if (r == null) {
                out.append("| ").append(m).append(" | n/a | n/a | n/a | n/a |\n");
                continue;
            }
            out.append(String.format(Locale.ROOT, "| %s | %,.0f ± %,.0f | %s | %s | %s |%n",
                    m, r.opsPerSecond, r.error, micros(r.p50), micros(r.p99), micros(r.p999)));
        }
        out.append("\nRatios, Concurry ops/s ÷ peer ops/s (targets: ≥ 3 vs Redisson, ≥ 10 vs Bucket4j, > 1 vs Bucket4j"
                + " batching, ≥ 1.0 of the `return 1` ceiling):\n\n");
        out.append(
                "| Concurry | ÷ Redisson | ÷ Bucket4j | ÷ Bucket4j batching | ÷ ceiling `return 1` | ÷ ceiling minimal GCRA"
                        + " |\n|---|---|---|---|---|---|\n");
        for (String c : CONCURRY) {
            out.append("| ").append(c);
            for (String p : PEERS) {
                out.append(" | ").append(ratio(rows.get(c), rows.get(p)));
            }
            out.append(" |\n");
        }
        out.append("\nVerdicts (concurryGcra, the like-for-like row):\n");
        Row gcra = rows.get("concurryGcra");
        out.append(verdict("N4 ≥ 3× Redisson RRateLimiter", gcra, rows.get("redissonRateLimiter"), 3));
        out.append(verdict("N4 ≥ 10× Bucket4j Lettuce", gcra, rows.get("bucket4jLettuce"), 10));
        out.append(verdict("N4 beats Bucket4j Lettuce with batching", gcra, rows.get("bucket4jLettuceBatching"), 1));
        out.append(verdict("N4 ≥ 1.0× the ceiling (EVALSHA return 1)", gcra, rows.get("ceilingReturn1"), 1));
        Row redisson = rows.get("redissonRateLimiter");
        if (gcra != null && redisson != null && !Double.isNaN(gcra.p99) && !Double.isNaN(redisson.p99)) {
            out.append(String.format(Locale.ROOT, "- N4 p99 no worse than Redisson's: %s (%.0f µs vs %.0f µs)%n",
                    gcra.p99 <= redisson.p99 ? "met" : "MISSED", gcra.p99, redisson.p99));
        }
        return out.toString();
    }

    static String micros(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.0f", v);
    }

    static double value(Row a, Row b) {
        return a == null || b == null ? Double.NaN : a.opsPerSecond / b.opsPerSecond;
    }

    static String ratio(Row a, Row b) {
        double v = value(a, b);
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.2f", v);
    }

    static String verdict(String target, Row a, Row b, double needed) {
        double v = value(a, b);
        String result = Double.isNaN(v) ? "n/a" : v >= needed ? "met" : "MISSED";
        return String.format(Locale.ROOT, "- %s: %s (%.2f, needed %.2f)%n", target, result, v, needed);
    }
}
