package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import dev.concurry.time.ManualClock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The grants without the engine's lock of a set of one limit racing the locked path (blocking acquires,
 * settlements, stats) on real threads — GCRA and token bucket (InMemoryStore's lock-free path, one
 * number) and sliding window (its spin-locked exclusive path, the fused one-limit grant) — checked by
 * an independent log ({@link GrantChecks}): over any interval [a, b] the units used by grants certainly
 * made inside it never exceed capacity + rate × (b − a), what a token bucket (and so GCRA, L5) allows;
 * for the sliding window, never more than capacity in any interval shorter than the window (L6).
 */
class SingleLimitFastPathStressTest {
    private static final double CAPACITY = 50;
    private static final Duration WINDOW = Duration.ofMillis(100);

    /** {before acquire, after acquire, units used}. */
    private record Grant(long before, long after, double used) {
    }

    @ParameterizedTest
    @EnumSource(value = RateAlgorithm.class, names = {"GCRA", "TOKEN_BUCKET", "SLIDING_WINDOW"})
    void L5_L6_L16_grants_without_and_with_the_lock_together_never_exceed_the_limit(RateAlgorithm algorithm)
            throws Exception {
        LimitSet set = LimitSet.builder()
                .add(RateLimit.of("units", CAPACITY, WINDOW, algorithm)).build();
        ConcurrentLinkedQueue<Grant> log = new ConcurrentLinkedQueue<>();
        long seed = System.nanoTime();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
        GrantChecks.hammer(32, seed, end, random -> hammerOnce(set, random, log));

        List<Grant> grants = new ArrayList<>(log);
        assertThat(grants.size()).as("seed %d", seed).isGreaterThan(100);
        assertThat(((LimitEngine) set).fastGrants()).as("grants made without the lock").isPositive();
        assertThat(set.stats().granted()).isEqualTo(grants.size());
        List<GrantChecks.Timed> timed = new ArrayList<>();
        for (Grant g : grants) {
            timed.add(new GrantChecks.Timed(g.before(), g.after(), g.used()));
        }
        if (algorithm == RateAlgorithm.SLIDING_WINDOW) {
            GrantChecks.assertWindow(timed, CAPACITY, WINDOW, "seed " + seed);
        } else {
            GrantChecks.assertBucket(timed, CAPACITY, WINDOW, "seed " + seed);
        }
    }

    /**
     * Time all but stopped (a manual clock moving a microsecond at a time, a window of an hour), so the
     * whole run is one window: the units granted never exceed capacity, and what the limit counts in use
     * at the end is exactly what the log says was granted and kept — an update lost to a race (two
     * grants in one ring slot, a refund overwritten) shows as a difference.
     */
    @ParameterizedTest
    @EnumSource(value = RateAlgorithm.class, names = {"GCRA", "TOKEN_BUCKET", "SLIDING_WINDOW"})
    void L5_L6_L16_racing_grants_and_refunds_lose_no_update(RateAlgorithm algorithm) throws Exception {
        double capacity = 20_000;
        Duration window = Duration.ofHours(1);
        ManualClock clock = new ManualClock();
        LimitSet set = LimitSet.builder().backend(Backends.inMemory(clock))
                .add(RateLimit.of("units", capacity, window, algorithm)).build();
        java.util.concurrent.atomic.DoubleAdder kept = new java.util.concurrent.atomic.DoubleAdder();
        java.util.concurrent.atomic.AtomicBoolean full = new java.util.concurrent.atomic.AtomicBoolean();
        long seed = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            SplittableRandom random = new SplittableRandom(seed + t);
            Runnable hammer = () -> {
                int refusals = 0;
                while (refusals < 2_000) {
                    Optional<Acquisition> now = set.tryAcquire(Request.of("units", 1 + random.nextInt(3)));
                    if (now.isEmpty()) {
                        refusals++;
                        full.set(true);
                        continue;
                    }
                    Acquisition acq = now.get();
                    double used = acq.granted().get("units");
                    if (random.nextInt(10) == 0) {
                        used = random.nextInt((int) used);             // a refund, settled under the lock
                        acq.update("units", used);
                    }
                    acq.close();
                    kept.add(used);
                }
            };
            threads.add(t % 2 == 0 ? Thread.ofPlatform().start(hammer) : Thread.ofVirtual().start(hammer));
        }
        Thread ticker = Thread.ofPlatform().start(() -> {
            while (!full.get()) {
                clock.advanceNanos(1_000);                              // ring entries at distinct times
                LockSupport.parkNanos(2_000);
            }
        });
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(60));
            assertThat(thread.isAlive()).isFalse();
        }
        ticker.join(TimeUnit.SECONDS.toMillis(10));

        assertThat(((LimitEngine) set).fastGrants()).as("grants made without the lock").isPositive();
        double refilled = capacity * clock.nanoTime() / window.toNanos();
        assertThat(kept.sum()).as("units kept (seed %d)", seed).isLessThanOrEqualTo(capacity + refilled + 1e-6);
        double inUse = set.stats().key("units").inUse();
        if (algorithm == RateAlgorithm.SLIDING_WINDOW) {
            assertThat(inUse).as("units the window counts (seed %d)", seed).isEqualTo(kept.sum());
        } else {
            assertThat(inUse).as("units the bucket counts (seed %d)", seed)
                    .isBetween(kept.sum() - refilled - 1e-6, kept.sum() + 1e-6);
        }
        set.close();
    }

    private static void hammerOnce(LimitSet set, SplittableRandom random, ConcurrentLinkedQueue<Grant> log) {
        int units = 1 + random.nextInt(3);
        Request request = Request.of("units", units);
        long before = System.nanoTime();
        Acquisition acq = GrantChecks.tryOrAcquire(set, request, random, random.nextInt(4) * 20_000L);     // often straight again: races at the edge
        if (acq == null) {
            return;
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
