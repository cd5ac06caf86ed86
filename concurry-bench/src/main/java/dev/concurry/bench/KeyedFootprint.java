package dev.concurry.bench;

import dev.concurry.limit.Backends;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.ManualClock;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Issue 21: bytes of heap per key of a {@link KeyedLimits} family, per algorithm, on the in-memory backend.
 *
 * <p>Method: the keys ({@code "customer-<i>"} strings) are made first and are not counted. Heap used is
 * read after {@code System.gc()} (four times, 100 ms apart), before the family is built and after each
 * key took one acquisition (closed), then after the manual clock moved 2.5 s (past two idle ticks of
 * {@code evictIdleAfter} = 1 s, while every window still counts: each acquisition took half a
 * one-minute limit). The
 * difference divided by the number of keys is the cost of a key <b>in use</b> (its engine and store),
 * and of a key <b>idle before eviction</b> (unused, state still counting: its store only). Bucket4j's
 * local bucket per key in a {@code ConcurrentHashMap} is measured the same way. Run with the serial
 * collector for stable figures: {@code java -XX:+UseSerialGC -Xmx4g -cp benchmarks.jar
 * dev.concurry.bench.KeyedFootprint [keys]}.
 */
public final class KeyedFootprint {
    private KeyedFootprint() {
    }

    private record Template(String name, List<Limit> limits, Request request) {
    }

    public static void main(String[] args) throws InterruptedException {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        String[] names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "customer-" + i;
        }
        Duration minute = Duration.ofMinutes(1);
        List<Template> templates = new ArrayList<>();
        for (RateAlgorithm algorithm : RateAlgorithm.values()) {
            templates.add(new Template(algorithm.name(), List.of(RateLimit.of("requests", 100, minute, algorithm)),
                    Request.of("requests", 50)));
        }
        templates.add(new Template("3 limits (2 token buckets + 1 resource)", List.of(
                RateLimit.of("requests", 100, minute, RateAlgorithm.TOKEN_BUCKET),
                RateLimit.of("tokens", 50_000, minute, RateAlgorithm.TOKEN_BUCKET), ResourceLimit.of("jobs", 3)),
                Request.of("requests", 50).and("tokens", 25_000).and("jobs", 1)));
        System.out.printf(Locale.ROOT, "| template | keys | in use (B/key) | idle before eviction (B/key) |%n");
        System.out.printf(Locale.ROOT, "|---|---:|---:|---:|%n");
        for (Template t : templates) {
            // A sliding window's ring is 12 KB: fewer keys keep the heap small.
            int n = t.name().equals("SLIDING_WINDOW") ? Math.min(keys, 10_000) : keys;
            ManualClock clock = new ManualClock();
            long before = usedHeap();
            KeyedLimits.Builder<String> builder = KeyedLimits.<String>builder().backend(Backends.inMemory(clock))
                    .evictIdleAfter(Duration.ofSeconds(1));
            builder.addAll(t.limits());
            KeyedLimits<String> family = builder.build();
            for (int i = 0; i < n; i++) {
                family.tryAcquire(names[i], t.request()).orElseThrow().close();
            }
            long inUse = usedHeap();
            clock.advance(Duration.ofMillis(2_500));
            long idle = usedHeap();
            if (family.keyedStats().keys() != n) {
                throw new IllegalStateException("keys were dropped while still counting: " + family.keyedStats());
            }
            System.out.printf(Locale.ROOT, "| %s | %,d | %.0f | %.0f |%n", t.name(), n, (inUse - before) / (double) n,
                    (idle - before) / (double) n);
            family.close();
        }
        long before = usedHeap();
        ConcurrentHashMap<String, LimitSet> sets = new ConcurrentHashMap<>();
        RateLimit bucket = RateLimit.of("requests", 100, minute, RateAlgorithm.TOKEN_BUCKET);
        for (int i = 0; i < keys; i++) {
            sets.computeIfAbsent(names[i], k -> LimitSet.builder().add(bucket).build())
                    .tryAcquire(Request.of("requests", 50)).orElseThrow().close();
        }
        long afterSets = usedHeap();
        System.out.printf(Locale.ROOT,
                "| TOKEN_BUCKET, a LimitSet per key in a ConcurrentHashMap (by hand, never dropped)"
                        + " | %,d | %.0f | %.0f |%n",
                keys, (afterSets - before) / (double) keys, (afterSets - before) / (double) keys);
        sets.values().forEach(LimitSet::close);
        sets.clear();
        before = usedHeap();
        Bandwidth bandwidth = Bandwidth.builder().capacity(100).refillGreedy(100, minute).build();
        ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
        for (int i = 0; i < keys; i++) {
            buckets.computeIfAbsent(names[i], k -> Bucket.builder().addLimit(bandwidth).build()).tryConsume(50);
        }
        long after = usedHeap();
        System.out.printf(Locale.ROOT, "| Bucket4j local bucket per key in a ConcurrentHashMap | %,d | %.0f | %.0f |%n",
                keys, (after - before) / (double) keys, (after - before) / (double) keys);
        if (buckets.size() != keys) {
            throw new AssertionError();
        }
    }

    private static long usedHeap() throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
