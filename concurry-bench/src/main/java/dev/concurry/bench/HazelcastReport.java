package dev.concurry.bench;

import java.util.ArrayList;
import java.util.Collection;
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
 * Runs SPEC N4b ({@link N4bHazelcast}) in one JMH run and prints a Markdown table of throughput with the
 * ratios and verdicts. Used by {@code bench/run.sh hazelcast}: 1 fork, 2 × 2 s warm-up, 3 × 3 s
 * measurement per benchmark, each on its own 3-member cluster (about 3 minutes in all). The JMH results go
 * to {@code <prefix>.json}.
 */
public final class HazelcastReport {
    static final String[] CONCURRY = {"concurryGcra", "concurryTokenBucket", "concurrySlidingWindow"};
    static final String[] PEERS = {"bucket4jHazelcast", "ceilingNoop", "ceilingNoopWrite"};

    private HazelcastReport() {
    }

    public static void main(String[] args) throws Exception {
        ChainedOptionsBuilder options = options("quick");
        if (args.length > 0) {
            options.result(args[0] + ".json").resultFormat(ResultFormatType.JSON);
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        System.out.println();
        System.out.println(table(results));
    }

    /** The JMH options of N4b: quick (see above) or smoke (in-process, one member, one 100 ms iteration). */
    public static ChainedOptionsBuilder options(String profile) {
        ChainedOptionsBuilder b = new OptionsBuilder().shouldFailOnError(true)
                .include("^" + N4bHazelcast.class.getName().replace(".", "\\.") + "\\.")
                .mode(Mode.Throughput).timeUnit(TimeUnit.SECONDS);
        return switch (profile) {
            case "quick" -> b.forks(1).warmupIterations(2).warmupTime(TimeValue.seconds(2))
                    .measurementIterations(3).measurementTime(TimeValue.seconds(3));
            case "smoke" -> b.forks(0).warmupIterations(0).measurementIterations(1).param("members", "1")
                    .measurementTime(TimeValue.milliseconds(100)).verbosity(VerboseMode.SILENT);
            default -> throw new IllegalArgumentException("unknown profile '" + profile + "'; use quick or smoke");
        };
    }

    /** The throughput table, the ratios and the verdicts on N4b. */
    public static String table(Collection<RunResult> results) {
        Map<String, RedisReport.Row> rows = RedisReport.rows(results, List.of());
        StringBuilder out = new StringBuilder();
        out.append("### N4b: Hazelcast, 3 member JVMs on loopback, a client with 8 threads, one hot set\n\n");
        out.append("| Benchmark | ops/s (8 threads) |\n|---|---|\n");
        List<String> all = new ArrayList<>(List.of(CONCURRY));
        all.addAll(List.of(PEERS));
        for (String m : all) {
            RedisReport.Row r = rows.get(m);
            out.append(r == null
                    ? "| " + m + " | n/a |\n"
                    : String.format(Locale.ROOT, "| %s | %,.0f ± %,.0f |%n", m, r.opsPerSecond(), r.error()));
        }
        out.append(
                "\nRatios, Concurry ops/s ÷ peer ops/s (targets: ≥ 3 vs Bucket4j, ≥ 0.80 of the no-op ceiling):\n\n");
        out.append("| Concurry | ÷ Bucket4j | ÷ no-op | ÷ no-op that writes |\n|---|---|---|---|\n");
        for (String c : CONCURRY) {
            out.append("| ").append(c);
            for (String p : PEERS) {
                out.append(" | ").append(RedisReport.ratio(rows.get(c), rows.get(p)));
            }
            out.append(" |\n");
        }
        out.append("\nVerdicts (concurryGcra, the like-for-like row):\n");
        RedisReport.Row gcra = rows.get("concurryGcra");
        out.append(RedisReport.verdict("N4b ≥ 3× Bucket4j Hazelcast", gcra, rows.get("bucket4jHazelcast"), 3));
        out.append(RedisReport.verdict("N4b ≥ 80% of the no-op entry processor", gcra, rows.get("ceilingNoop"), 0.8));
        return out.toString();
    }
}
