package dev.concurry.bench;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The rows of {@link KeyedBench}, measured in CPU time of the measuring thread rather than elapsed time,
 * and interleaved: round after round, each contender runs a slice of calls in turn. On a machine that
 * other work keeps busy (elapsed time then measures the scheduler), this still compares the contenders
 * fairly: a slice is charged only the time its thread ran, and every contender meets the same load.
 * Caches are still shared with the other work, so absolute figures are higher than on a quiet machine.
 *
 * <p>Usage: {@code java -Xmx6g -cp benchmarks.jar dev.concurry.bench.KeyedCpuTime [keys] [rounds]}
 * (1,000,000 keys and 30 rounds of 200,000 calls per contender by default; the first 5 rounds warm up).
 */
public final class KeyedCpuTime {
    private static final int SLICE = 200_000;
    private static final int WARM_UP_ROUNDS = 5;
    private static final Request ONE = Request.of("requests", 1);

    private KeyedCpuTime() {
    }

    /** One contender: a call on the key it is given. */
    private interface Contender {
        Object call(String key);
    }

    public static void main(String[] args) {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        String[] names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "customer-" + i;
        }
        RateLimit limit = RateLimit.of("requests", Limiters.HUGE, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET);
        LimitSet single = LimitSet.builder().add(limit).build();
        KeyedLimits<String> keyed = KeyedLimits.<String>builder().name("cpu").add(limit).build();
        Bandwidth bandwidth = Bandwidth.builder().capacity(Limiters.HUGE)
                .refillGreedy(Limiters.HUGE, Duration.ofSeconds(1))
                .build();
        ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
        List<String> labels = List.of("singleSet", "keyed", "bucket4jPerKey");
        List<Contender> contenders = List.of(
                key -> close(single.tryAcquire(ONE).orElseThrow()),
                key -> close(keyed.tryAcquire(key, ONE).orElseThrow()),
                key -> buckets.computeIfAbsent(key, k -> Bucket.builder().addLimit(bandwidth).build()).tryConsume(1));
        for (String name : names) {
            contenders.get(1).call(name);
            contenders.get(2).call(name);
        }
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        System.out.printf(Locale.ROOT, "# %,d keys, %d rounds of %,d calls per contender (first %d warm up), CPU time"
                + " of the calling thread%n", keys, rounds, SLICE, WARM_UP_ROUNDS);
        for (String distribution : List.of("uniform", "zipf")) {
            int[] draws = KeyedBench.draws(distribution, keys, 1 << 22, 42);
            long[] nanos = new long[contenders.size()];
            int cursor = 0;
            for (int round = 0; round < rounds; round++) {
                for (int k = 0; k < contenders.size(); k++) {
                    int c = (round + k) % contenders.size();       // rotate who goes first
                    Contender contender = contenders.get(c);
                    long start = cpu.getCurrentThreadCpuTime();
                    for (int i = 0; i < SLICE; i++) {
                        cursor = (cursor + 1) & (draws.length - 1);
                        contender.call(names[draws[cursor]]);
                    }
                    if (round >= WARM_UP_ROUNDS) {
                        nanos[c] += cpu.getCurrentThreadCpuTime() - start;
                    }
                }
            }
            long calls = (long) (rounds - WARM_UP_ROUNDS) * SLICE;
            List<String> row = new ArrayList<>();
            for (int c = 0; c < contenders.size(); c++) {
                row.add(String.format(Locale.ROOT, "%s %.0f ns", labels.get(c), nanos[c] / (double) calls));
            }
            System.out.printf(Locale.ROOT, "%s: %s; keyed / single set %.2f, keyed / Bucket4j %.2f%n", distribution,
                    String.join(", ", row), nanos[1] / (double) nanos[0], nanos[1] / (double) nanos[2]);
        }
        keyed.close();
        single.close();
    }

    private static Object close(Acquisition acquisition) {
        acquisition.close();
        return acquisition;
    }
}
