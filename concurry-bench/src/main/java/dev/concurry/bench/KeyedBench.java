package dev.concurry.bench;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Issue 21 (SPEC L24): a rate limit per key over 1,000,000 distinct keys, drawn uniformly or
 * Zipf-skewed (exponent 1: the top 1% of keys get about two thirds of the calls), one {@code tryAcquire} + close
 * per call. Every limit is far above the offered load, so every call succeeds.
 * <ul>
 *   <li>{@link #singleSet}: one in-memory set, the key ignored (the cost a keyed family is compared with);</li>
 *   <li>{@link #keyed}: a {@link KeyedLimits} family, with {@code evictIdleAfter} of 1 minute (the
 *       default) and of 1 s (a key unused for 1–2 s is dropped, its bucket being full: keys drawn less
 *       often than that are built again on each use, as the cold keys of a Zipf draw are with the
 *       default over a longer run); the peer never drops a bucket;</li>
 *   <li>{@link #bucket4jPerKey}: Bucket4j's local lock-free bucket per key in a {@link ConcurrentHashMap}
 *       ({@code computeIfAbsent}), the usual way to limit per key with Bucket4j in one JVM.</li>
 * </ul>
 * All use a token bucket (Concurry's {@code TOKEN_BUCKET}, run as GCRA) of {@link Limiters#HUGE} per
 * second. The families and the map are filled with every key before measuring. Every method reads its
 * key from the same precomputed draw, so they pay the same for choosing it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Xms6g"})
@State(Scope.Benchmark)
public class KeyedBench {
    /** Draws of key indexes, cycled through: 4 M, far more than the keys, so the cycle does not matter. */
    private static final int DRAWS = 1 << 22;
    private static final Duration SECOND = Duration.ofSeconds(1);
    private static final Request ONE = Request.of("requests", 1);
    private static final RateLimit LIMIT = RateLimit.of("requests", Limiters.HUGE, SECOND, RateAlgorithm.TOKEN_BUCKET);

    @Param({"uniform", "zipf"})
    public String distribution;

    /** Distinct keys (1,000,000 for issue 21; fewer, e.g. {@code -p keys=1000}, shows the cost without cache misses). */
    @Param({"1000000"})
    public int keys;

    String[] names;
    int[] draws;

    @Setup(Level.Trial)
    public void draw() {
        names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "customer-" + i;
        }
        draws = draws(distribution, keys, DRAWS, 42);
    }

    /** {@code count} key indexes in [0, keys): uniform, or Zipf with exponent 1 (rank i drawn with weight 1/i). */
    static int[] draws(String distribution, int keys, int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] draws = new int[count];
        if (distribution.equals("uniform")) {
            for (int i = 0; i < count; i++) {
                draws[i] = random.nextInt(keys);
            }
            return draws;
        }
        double[] cumulative = new double[keys];
        double sum = 0;
        for (int rank = 0; rank < keys; rank++) {
            sum += 1.0 / (rank + 1);
            cumulative[rank] = sum;
        }
        for (int i = 0; i < count; i++) {
            int found = Arrays.binarySearch(cumulative, random.nextDouble() * sum);
            draws[i] = Math.min(keys - 1, found >= 0 ? found : -found - 1);
        }
        return draws;
    }

    /** Where each thread is in the draws; threads start apart. */
    @State(Scope.Thread)
    public static class Cursor {
        private int next;

        @Setup
        public void start() {
            next = (int) (Thread.currentThread().threadId() * 7_919) & (DRAWS - 1);
        }

        String key(KeyedBench bench) {
            next = (next + 1) & (DRAWS - 1);
            return bench.names[bench.draws[next]];
        }
    }

    @State(Scope.Benchmark)
    public static class Single {
        LimitSet set;

        @Setup
        public void build() {
            set = LimitSet.builder().add(LIMIT).build();
        }

        @TearDown
        public void close() {
            set.close();
        }
    }

    @State(Scope.Benchmark)
    public static class Family {
        /** The family's {@code evictIdleAfter}: the default, or short enough that keys are dropped and built again. */
        @Param({"1m", "1s"})
        public String evictIdleAfter;
        KeyedLimits<String> family;

        @Setup
        public void build(KeyedBench bench) {
            family = KeyedLimits.<String>builder().name("bench").add(LIMIT)
                    .evictIdleAfter(evictIdleAfter.equals("1s") ? SECOND : Duration.ofMinutes(1)).build();
            for (String key : bench.names) {
                family.tryAcquire(key, ONE).orElseThrow().close();
            }
        }

        @TearDown
        public void close() {
            family.close();
        }
    }

    @State(Scope.Benchmark)
    public static class Buckets {
        final Bandwidth bandwidth = Bandwidth.builder().capacity(Limiters.HUGE).refillGreedy(Limiters.HUGE, SECOND)
                .build();
        final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

        @Setup
        public void fill(KeyedBench bench) {
            for (String key : bench.names) {
                bucket(key).tryConsume(1);
            }
        }

        Bucket bucket(String key) {
            return buckets.computeIfAbsent(key, k -> Bucket.builder().addLimit(bandwidth).build());
        }
    }

    @Benchmark
    @Threads(1)
    public Acquisition singleSet(Single single, Cursor cursor, Blackhole blackhole) {
        blackhole.consume(cursor.key(this));
        Acquisition acquisition = single.set.tryAcquire(ONE).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    @Threads(1)
    public Acquisition keyed(Family family, Cursor cursor) {
        Acquisition acquisition = family.family.tryAcquire(cursor.key(this), ONE).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    @Threads(1)
    public boolean bucket4jPerKey(Buckets buckets, Cursor cursor) {
        return buckets.bucket(cursor.key(this)).tryConsume(1);
    }
}
