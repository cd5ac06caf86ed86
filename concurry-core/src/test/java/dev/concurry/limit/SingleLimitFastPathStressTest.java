package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The lock-free grants of a single GCRA or token-bucket set (InMemoryStore, one number) racing the locked path (blocking
 * acquires, settlements, stats) on real threads, checked by an independent log: over any interval
 * [a, b] the units used by grants certainly made inside it never exceed capacity + rate × (b − a),
 * which is what a token bucket (and so GCRA, L5) allows.
 */
class GcraLockFreeStressTest {
    private static final double CAPACITY = 50;
    private static final Duration WINDOW = Duration.ofMillis(100);

    /** {before acquire, after acquire, units used}. */
    private record Grant(long before, long after, double used) {
    }

    @ParameterizedTest
    @EnumSource(value = RateAlgorithm.class, names = {"GCRA", "TOKEN_BUCKET"})
    void L5_L16_lock_free_and_locked_grants_together_never_exceed_the_bucket(RateAlgorithm algorithm) throws Exception {
        LimitSet set = LimitSet.builder()
                .add(RateLimit.of("units", CAPACITY, WINDOW, algorithm)).build();
        ConcurrentLinkedQueue<Grant> log = new ConcurrentLinkedQueue<>();
        long seed = System.nanoTime();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 32; t++) {
            SplittableRandom random = new SplittableRandom(seed + t);
            Runnable hammer = () -> {
                while (System.nanoTime() - end < 0) {
                    hammerOnce(set, random, log);
                }
            };
            threads.add(t % 2 == 0 ? Thread.ofPlatform().start(hammer) : Thread.ofVirtual().start(hammer));
        }
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(thread.isAlive()).isFalse();
        }

        List<Grant> grants = new ArrayList<>(log);
        assertThat(grants.size()).as("seed %d", seed).isGreaterThan(100);
        assertThat(((LimitEngine) set).fastGrants()).as("grants made without the lock").isPositive();
        assertThat(set.stats().granted()).isEqualTo(grants.size());
        double ratePerNano = CAPACITY / WINDOW.toNanos();
        grants.sort(Comparator.comparingLong(Grant::before));
        for (int i = 0; i < grants.size(); i++) {
            long a = grants.get(i).before();
            List<Grant> inside = new ArrayList<>(grants.subList(i, grants.size()));
            inside.sort(Comparator.comparingLong(Grant::after));
            double used = 0;
            for (Grant g : inside) {
                used += g.used();
                double allowed = CAPACITY + ratePerNano * (g.after() - a) + 1e-6;
                assertThat(used).as("units certainly granted in [%d, %d] ns (seed %d)", a, g.after(), seed)
                        .isLessThanOrEqualTo(allowed);
            }
        }
    }

    private static void hammerOnce(LimitSet set, SplittableRandom random, ConcurrentLinkedQueue<Grant> log) {
        int units = 1 + random.nextInt(3);
        Request request = Request.of("units", units);
        long before = System.nanoTime();
        Acquisition acq;
        int how = random.nextInt(10);
        if (how < 7) {
            Optional<Acquisition> now = set.tryAcquire(request);
            if (now.isEmpty()) {
                LockSupport.parkNanos(50_000);
                return;
            }
            acq = now.get();
        } else {
            try {
                acq = set.acquire(request, Duration.ofMillis(30));
            } catch (AcquireTimeoutException e) {
                return;
            }
        }
        long after = System.nanoTime();
        double used = units;
        if (random.nextInt(5) == 0) {
            used = random.nextInt(units + 1);          // a refund, settled under the lock
            acq.update("units", used);
        }
        if (random.nextInt(20) == 0) {
            set.stats();                                // the locked path, racing lock-free grants
        }
        acq.close();
        log.add(new Grant(before, after, used));
    }
}
