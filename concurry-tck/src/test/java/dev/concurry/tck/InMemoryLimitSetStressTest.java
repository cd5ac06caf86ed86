package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Many threads hammer one in-memory set on the real clock (SPEC L5 sliding window, L3 resources, L16)
 * while an independent log checks that no window admitted more than capacity and no permit was lost.
 *
 * <p>Why the check is sound. The set decides a grant at an instant g that the test cannot read. But g
 * lies between {@code System.nanoTime()} read just before the acquire call (b) and just after it
 * returns (a): the grant happens inside the call. A set of grants is certainly inside one half-open
 * window [t, t + W) when max(a) - min(b) &lt; W, so for every grant i we sum the grants j with
 * b_i &le; b_j and a_j &lt; b_i + W: those all fall in [b_i, b_i + W), and their sum must not exceed
 * capacity. Grants with wide [b, a] intervals (long waits) are simply never counted together: the
 * check can miss a violation, never invent one. Most grants come from {@code tryAcquire}, whose
 * interval is tight, so the check has teeth; the test asserts that it did sum near-full windows.
 * Refunds (usage below the request) only lower a grant's units, so the log records the final usage.
 */
class InMemoryLimitSetStressTest {
    private static final int THREADS = 64;
    private static final long WINDOW_NANOS = Duration.ofMillis(50).toNanos();
    private static final double CAPACITY = 40;
    private static final int PERMITS = 4;
    private static final long RUN_NANOS = Duration.ofMillis(1_500).toNanos();
    private static final int MAX_ITERATIONS_PER_THREAD = 100_000;

    /** One grant: the time just before and just after the acquiring call, and the units counted. */
    private record Grant(long before, long after, double units) {
    }

    @ParameterizedTest(name = "virtual threads: {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("L5/L3/L16 64 threads never exceed a sliding window's capacity nor a resource's permits")
    void hammer_sliding_window_and_resource(boolean virtual) throws InterruptedException {
        LimitSet set = LimitSet.builder()
                .add(RateLimit.of("units", CAPACITY, Duration.ofNanos(WINDOW_NANOS)))
                .add(ResourceLimit.of("conn", PERMITS))
                .backend(Backends.inMemory())
                .build();
        ConcurrentLinkedQueue<Grant> log = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger maxHolders = new AtomicInteger();
        AtomicInteger timeouts = new AtomicInteger();
        long seed = System.nanoTime();
        long end = System.nanoTime() + RUN_NANOS;

        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            SplittableRandom random = new SplittableRandom(seed + t);
            Runnable worker = () -> {
                try {
                    for (int i = 0; i < MAX_ITERATIONS_PER_THREAD && System.nanoTime() - end < 0; i++) {
                        hammerOnce(set, random, end, log, holders, maxHolders, timeouts);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            };
            threads.add(virtual ? Thread.ofVirtual().start(worker) : Thread.ofPlatform().daemon().start(worker));
        }
        for (Thread thread : threads) {
            assertThat(thread.join(Duration.ofSeconds(10))).as("thread finished").isTrue();
        }

        assertThat(failures).as("seed %d: no acquirer failed", seed).isEmpty();
        assertThat(maxHolders.get()).as("most permits held at once").isBetween(1, PERMITS);
        LimitStats stats = set.stats();
        assertThat(stats.key("conn").inUse()).as("every permit is back").isZero();
        assertThat(stats.waiting()).isZero();
        assertThat(stats.granted()).isEqualTo(log.size());

        List<Grant> grants = new ArrayList<>(log);
        grants.sort(Comparator.comparingLong(Grant::before));
        double fullest = 0;
        long tight = grants.stream().filter(g -> g.after() - g.before() < WINDOW_NANOS / 10).count();
        for (int i = 0; i < grants.size(); i++) {
            long start = grants.get(i).before();
            double sum = 0;
            for (int j = i; j < grants.size() && grants.get(j).before() < start + WINDOW_NANOS; j++) {
                if (grants.get(j).after() < start + WINDOW_NANOS) {
                    sum += grants.get(j).units();
                }
            }
            assertThat(sum).as("seed %d: units certainly granted in [%d, %d + window)", seed, start, start)
                    .isLessThanOrEqualTo(CAPACITY + 1e-9);
            fullest = Math.max(fullest, sum);
        }
        // The check must have had something to check: many tight grants, windows summed near capacity.
        assertThat(grants.size()).as("grants").isGreaterThan(100);
        assertThat((double) tight / grants.size()).as("share of tightly timed grants").isGreaterThan(0.25);
        assertThat(fullest).as("fullest window the check could prove").isGreaterThanOrEqualTo(CAPACITY / 2);
        set.close();
    }

    private static void hammerOnce(LimitSet set, SplittableRandom random, long end, ConcurrentLinkedQueue<Grant> log,
            AtomicInteger holders, AtomicInteger maxHolders, AtomicInteger timeouts) {
        int units = 1 + random.nextInt(3);
        int shape = random.nextInt(3);
        Request request = switch (shape) {
            case 0 -> Request.of("units", units);
            case 1 -> Request.of("units", units).and("conn", 1);
            default -> Request.of("conn", 1);
        };
        boolean conn = shape > 0;
        double counted = shape == 2 ? 0 : units;
        long before;
        Acquisition acq;
        int how = random.nextInt(10);
        if (how < 7) {
            // Non-blocking: tight bounds on the grant instant.
            Optional<Acquisition> now;
            do {
                before = System.nanoTime();
                now = set.tryAcquire(request);
                if (now.isEmpty()) {
                    if (System.nanoTime() - end > 0) {
                        return;
                    }
                    // Back off briefly: 64 spinning virtual threads would starve their few carriers.
                    LockSupport.parkNanos(20_000);
                }
            } while (now.isEmpty());
            acq = now.get();
        } else if (how < 9) {
            before = System.nanoTime();
            try {
                acq = set.acquire(request, Duration.ofMillis(100));
            } catch (AcquireTimeoutException e) {
                timeouts.incrementAndGet();
                return;
            }
        } else {
            before = System.nanoTime();
            try {
                acq = set.acquireAsync(request).get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("async acquisition failed", e);
            }
        }
        long after = System.nanoTime();
        try (acq) {
            if (conn) {
                int now = holders.incrementAndGet();
                maxHolders.accumulateAndGet(now, Math::max);
            }
            if (shape < 2 && random.nextInt(4) == 0) {
                counted = random.nextInt(units + 1);     // refund part of it
                acq.update("units", counted);
            }
            LockSupport.parkNanos(random.nextInt(200_000));
            if (conn) {
                holders.decrementAndGet();
            }
        }
        log.add(new Grant(before, after, counted));
    }
}
