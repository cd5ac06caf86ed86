package dev.concurry.bench;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs the SPEC section 5 benchmarks of a profile in one JMH run and prints the results as Markdown
 * tables with ratios to the peers, then the N5 accuracy run. Used by {@code bench/run.sh}.
 *
 * <p>Usage: {@code Report quick|full [result.json]}.
 * <ul>
 *   <li>quick: 1 fork, 2 × 1 s warm-up, 3 × 1 s measurement, {@code -prof gc}; accuracy 3 s each (about 5 min).</li>
 *   <li>full: 2 forks, 3 × 2 s warm-up, 5 × 2 s measurement, {@code -prof gc}; accuracy 10 s each.</li>
 * </ul>
 */
public final class Report {
    /** The JMH benchmark classes of SPEC N1, N2, N3 and N6. */
    public static final List<Class<?>> BENCHMARKS = List.of(N1OneThread.class, N1TwoThreads.class,
            N2OneThread.class, N2TwoThreads.class, N3SingleJvm.class, N3TwoJvms.class, N6Call.class, N6Batch.class);

    private static final String[] N1_CONCURRY = {"concurryTokenBucket", "concurryTokenBucketWithMetrics",
            "concurryGcra",
            "concurrySlidingWindow"};
    private static final String[] N1_PEERS = {"resilience4jAtomic", "bucket4jLocal", "guavaSmoothBursty",
            "semaphoreFloor"};
    private static final String[] N2_ROWS = {"concurryAtomic", "concurrySeparate", "peersByHand"};
    /** N6: each Concurry row and the bare ExecutorService it is compared with. */
    private static final String[][] N6_ROWS = {
            {"thread1", "executorFixed1"}, {"thread2", "executorFixed2"},
            {"virtual1", "executorVirtual"}, {"virtual2", "executorVirtual"},
            {"taskThread1", "executorFixed1"}, {"taskVirtual1", "executorVirtual"}};
    private static final String[] N6_BASELINES = {"executorFixed1", "executorFixed2", "executorVirtual"};

    private Report() {
    }

    public static void main(String[] args) throws Exception {
        String profile = args.length > 0 ? args[0] : "quick";
        String resultFile = args.length > 1 ? args[1] : null;
        ChainedOptionsBuilder options = options(profile);
        if (resultFile != null) {
            options.result(resultFile).resultFormat(ResultFormatType.JSON);
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        System.out.println();
        System.out.println(tables(results));
        double seconds = profile.equals("full") ? 10 : 3;
        Accuracy.main(new String[] {Double.toString(seconds), "4"});
    }

    /** The JMH options of a profile: quick, full, or smoke (in-process, one 100 ms iteration, no profiler). */
    public static ChainedOptionsBuilder options(String profile) {
        ChainedOptionsBuilder b = new OptionsBuilder().shouldFailOnError(true);
        for (Class<?> c : BENCHMARKS) {
            b.include("^" + c.getName().replace(".", "\\.") + "\\.");
        }
        return switch (profile) {
            case "quick" -> b.forks(1).warmupIterations(2).warmupTime(TimeValue.seconds(1))
                    .measurementIterations(3).measurementTime(TimeValue.seconds(1)).addProfiler(GCProfiler.class);
            case "full" -> b.forks(2).warmupIterations(3).warmupTime(TimeValue.seconds(2))
                    .measurementIterations(5).measurementTime(TimeValue.seconds(2)).addProfiler(GCProfiler.class);
            case "smoke" -> b.forks(0).warmupIterations(0).measurementIterations(1)
                    .measurementTime(TimeValue.milliseconds(100)).verbosity(VerboseMode.SILENT);
            default ->
                throw new IllegalArgumentException("unknown profile '" + profile + "'; use quick, full or smoke");
        };
    }

    /** A benchmark's score: ns/op (per thread), its 99.9% error, and B/op (NaN without -prof gc). */
    record Score(double ns, double error, double bytes) {
        String cell() {
            return Double.isNaN(ns) ? "n/a" : String.format(Locale.ROOT, "%.1f ± %.1f", ns, error);
        }

        String bytesCell() {
            return Double.isNaN(bytes) ? "n/a" : String.format(Locale.ROOT, "%.0f", bytes);
        }
    }

    @SuppressWarnings("rawtypes")     // JMH's secondary results are a Map<String, Result>
    static Map<String, Score> scores(Collection<RunResult> results) {
        Map<String, Score> map = new LinkedHashMap<>();
        for (RunResult r : results) {
            String benchmark = r.getParams().getBenchmark();
            String key = benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1);
            Result<?> primary = r.getPrimaryResult();
            double bytes = Double.NaN;
            for (var e : r.getSecondaryResults().entrySet()) {
                if (e.getKey().endsWith("gc.alloc.rate.norm")) {
                    bytes = e.getValue().getScore();
                }
            }
            map.put(key, new Score(primary.getScore(), primary.getScoreError(), bytes));
        }
        return map;
    }

    private static Score get(Map<String, Score> scores, String key) {
        return scores.getOrDefault(key, new Score(Double.NaN, Double.NaN, Double.NaN));
    }

    private static String ratio(Score a, Score b) {
        return Double.isNaN(a.ns) || Double.isNaN(b.ns) ? "n/a" : String.format(Locale.ROOT, "%.2f", a.ns / b.ns);
    }

    private static String opsPerMicro(Score s, int threads) {
        return Double.isNaN(s.ns) ? "n/a" : String.format(Locale.ROOT, "%.1f", threads * 1000 / s.ns);
    }

    /** The Markdown tables and the verdicts on N1 and N2. */
    public static String tables(Collection<RunResult> results) {
        Map<String, Score> s = scores(results);
        StringBuilder out = new StringBuilder();
        out.append("### N1: one rate limit, tryAcquire (+ close / release)\n\n");
        out.append(
                "| Limiter | 1 thread ns/op | 1 thread B/op | 2 threads ns/op/thread | 2 threads B/op | 2 threads total ops/µs |\n");
        out.append("|---|---|---|---|---|---|\n");
        for (String m : concat(N1_CONCURRY, N1_PEERS)) {
            Score one = get(s, "N1OneThread." + m);
            Score two = get(s, "N1TwoThreads." + m);
            out.append("| ").append(m).append(" | ").append(one.cell()).append(" | ").append(one.bytesCell())
                    .append(" | ").append(two.cell()).append(" | ").append(two.bytesCell()).append(" | ")
                    .append(opsPerMicro(two, 2)).append(" |\n");
        }
        out.append("\nRatios: Concurry ns/op ÷ peer ns/op (below 1 = Concurry faster).\n\n");
        out.append("| Concurry | threads |");
        for (String p : N1_PEERS) {
            out.append(" vs ").append(p).append(" |");
        }
        out.append("\n|---|---|").append("---|".repeat(N1_PEERS.length)).append('\n');
        for (String m : N1_CONCURRY) {
            for (String cls : new String[] {"N1OneThread", "N1TwoThreads"}) {
                out.append("| ").append(m).append(" | ").append(cls.equals("N1OneThread") ? 1 : 2).append(" |");
                for (String p : N1_PEERS) {
                    out.append(' ').append(ratio(get(s, cls + "." + m), get(s, cls + "." + p))).append(" |");
                }
                out.append('\n');
            }
        }
        out.append("\n### N2: three limits (requests, tokens, connections)\n\n");
        out.append("| Variant | 1 thread ns/op | 1 thread B/op | 2 threads ns/op/thread | 2 threads B/op |\n");
        out.append("|---|---|---|---|---|\n");
        for (String m : N2_ROWS) {
            Score one = get(s, "N2OneThread." + m);
            Score two = get(s, "N2TwoThreads." + m);
            out.append("| ").append(m).append(" | ").append(one.cell()).append(" | ").append(one.bytesCell())
                    .append(" | ").append(two.cell()).append(" | ").append(two.bytesCell()).append(" |\n");
        }
        out.append("\nRatios: concurryAtomic ÷ concurrySeparate = ")
                .append(ratio(get(s, "N2OneThread.concurryAtomic"), get(s, "N2OneThread.concurrySeparate")))
                .append(" (1 thread), ")
                .append(ratio(get(s, "N2TwoThreads.concurryAtomic"), get(s, "N2TwoThreads.concurrySeparate")))
                .append(" (2 threads); concurryAtomic ÷ peersByHand = ")
                .append(ratio(get(s, "N2OneThread.concurryAtomic"), get(s, "N2OneThread.peersByHand")))
                .append(" (1 thread), ")
                .append(ratio(get(s, "N2TwoThreads.concurryAtomic"), get(s, "N2TwoThreads.peersByHand")))
                .append(" (2 threads).\n\n");
        out.append("### N3: shared-memory backend, tryAcquire + close, 1 thread\n\n");
        out.append("| Row | ns/op | B/op |\n|---|---|---|\n");
        for (String cls : new String[] {"N3SingleJvm", "N3TwoJvms"}) {
            Score n3 = get(s, cls + ".concurryTokenBucket");
            out.append("| ").append(cls).append(" | ").append(n3.cell()).append(" | ").append(n3.bytesCell())
                    .append(" |\n");
        }
        out.append("\n### N6: worker call overhead (trivial call)\n\n");
        out.append("| Row | submit+join ns/call | B/call | batch of ").append(WorkerCallBench.BATCH)
                .append(" ns/call | B/call | vs | ratio (call) | ratio (batch) |\n");
        out.append("|---|---|---|---|---|---|---|---|\n");
        for (String[] row : N6_ROWS) {
            Score call = get(s, "N6Call." + row[0]);
            Score batch = get(s, "N6Batch." + row[0]);
            out.append("| ").append(row[0]).append(" | ").append(call.cell()).append(" | ").append(call.bytesCell())
                    .append(" | ").append(batch.cell()).append(" | ").append(batch.bytesCell()).append(" | ")
                    .append(row[1]).append(" | ").append(ratio(call, get(s, "N6Call." + row[1]))).append(" | ")
                    .append(ratio(batch, get(s, "N6Batch." + row[1]))).append(" |\n");
        }
        for (String b : N6_BASELINES) {
            Score call = get(s, "N6Call." + b);
            Score batch = get(s, "N6Batch." + b);
            out.append("| ").append(b).append(" | ").append(call.cell()).append(" | ").append(call.bytesCell())
                    .append(" | ").append(batch.cell()).append(" | ").append(batch.bytesCell()).append(" | | | |\n");
        }
        out.append('\n');
        out.append("### Verdicts (SPEC section 5)\n\n");
        for (String m : new String[] {"concurryTokenBucket", "concurryGcra"}) {
            out.append(verdictN1(s, m));
        }
        Score a1 = get(s, "N2OneThread.concurryAtomic");
        Score s1 = get(s, "N2OneThread.concurrySeparate");
        Score a2 = get(s, "N2TwoThreads.concurryAtomic");
        Score s2 = get(s, "N2TwoThreads.concurrySeparate");
        out.append(String.format(Locale.ROOT,
                "- N2 (atomic 3 limits < 3 separate): 1 thread %s (%.1f vs %.1f ns), 2 threads %s (%.1f vs %.1f ns)%n",
                a1.ns < s1.ns ? "met" : "MISSED", a1.ns, s1.ns, a2.ns < s2.ns ? "met" : "MISSED", a2.ns, s2.ns));
        Score n3 = get(s, "N3TwoJvms.concurryTokenBucket");
        out.append(String.format(Locale.ROOT,
                "- N3 (shared memory under 1 µs per acquisition across two JVMs): %s (%.1f ns)%n",
                n3.ns < 1000 ? "met" : "MISSED", n3.ns));
        for (String[] row : N6_ROWS) {
            for (String cls : new String[] {"N6Call", "N6Batch"}) {
                Score c = get(s, cls + "." + row[0]);
                Score e = get(s, cls + "." + row[1]);
                out.append(String.format(Locale.ROOT, "- N6 %s.%s (within 2× %s): %s (%.0f vs %.0f ns, %.2f×)%n",
                        cls, row[0], row[1], c.ns <= 2 * e.ns ? "met" : "MISSED", c.ns, e.ns, c.ns / e.ns));
            }
        }
        return out.toString();
    }

    private static String verdictN1(Map<String, Score> s, String m) {
        Score c1 = get(s, "N1OneThread." + m);
        Score r1 = get(s, "N1OneThread.resilience4jAtomic");
        Score b1 = get(s, "N1OneThread.bucket4jLocal");
        Score c2 = get(s, "N1TwoThreads." + m);
        Score r2 = get(s, "N1TwoThreads.resilience4jAtomic");
        Score b2 = get(s, "N1TwoThreads.bucket4jLocal");
        boolean one = c1.ns <= r1.ns && c1.ns <= b1.ns;
        boolean two = c2.ns < r2.ns && c2.ns < b2.ns;
        return String.format(Locale.ROOT,
                "- N1 %s, 1 thread (no slower than Resilience4j and Bucket4j): %s (%.1f ns vs %.1f / %.1f, %.2f× / %.2f×);"
                        + " 2 threads (ahead of both): %s (%.1f ns vs %.1f / %.1f, %.2f× / %.2f×)%n",
                m, one ? "met" : "MISSED", c1.ns, r1.ns, b1.ns, c1.ns / r1.ns, c1.ns / b1.ns,
                two ? "met" : "MISSED", c2.ns, r2.ns, b2.ns, c2.ns / r2.ns, c2.ns / b2.ns);
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = new String[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
