package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Independent checks of a log of grants taken on real threads, for the stress tests: each grant is
 * known only to have been made between {@code before} (just before the call) and {@code after} (just
 * after it returned), so a grant "certainly inside" [a, b] has {@code before >= a} and {@code after <= b}.
 */
final class GrantChecks {
    /** One grant of {@code units} (as finally used), made between the two clock readings. */
    record Timed(long before, long after, double units) {
    }

    private GrantChecks() {
    }

    /**
     * Runs {@code step} again and again on {@code count} threads, platform and virtual in turn, each with
     * its own random seeded from {@code seed}, until {@code end} ({@link System#nanoTime()}); returns once
     * they have all stopped.
     */
    static void hammer(int count, long seed, long end, Consumer<SplittableRandom> step) throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            SplittableRandom random = new SplittableRandom(seed + t);
            Runnable hammer = () -> {
                while (System.nanoTime() - end < 0) {
                    step.accept(random);
                }
            };
            threads.add(t % 2 == 0 ? Thread.ofPlatform().start(hammer) : Thread.ofVirtual().start(hammer));
        }
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(thread.isAlive()).as("a hammering thread still runs 30 s after the end").isFalse();
        }
    }

    /**
     * Seven times in ten a try (parking {@code refusedParkNanos} when refused), else a blocking acquire of
     * up to 30 ms, which may queue as a waiter; null when neither granted.
     */
    static Acquisition tryOrAcquire(LimitSet set, Request request, SplittableRandom random, long refusedParkNanos) {
        if (random.nextInt(10) < 7) {
            Optional<Acquisition> now = set.tryAcquire(request);
            if (now.isEmpty()) {
                LockSupport.parkNanos(refusedParkNanos);
            }
            return now.orElse(null);
        }
        try {
            return set.acquire(request, Duration.ofMillis(30));
        } catch (AcquireTimeoutException e) {
            return null;
        }
    }

    /** Token bucket and GCRA (SPEC L5): over any [a, b], at most capacity + rate × (b − a). */
    static void assertBucket(List<Timed> grants, double capacity, Duration window, String what) {
        check(grants, capacity, capacity / window.toNanos(), Long.MAX_VALUE, what);
    }

    /** Sliding window (SPEC L6): over any [a, b] shorter than the window, at most capacity. */
    static void assertWindow(List<Timed> grants, double capacity, Duration window, String what) {
        check(grants, capacity, 0, window.toNanos(), what);
    }

    private static void check(List<Timed> grants, double capacity, double ratePerNano, long span, String what) {
        List<Timed> byStart = new ArrayList<>(grants);
        byStart.sort(Comparator.comparingLong(Timed::before));
        for (int i = 0; i < byStart.size(); i++) {
            long a = byStart.get(i).before();
            List<Timed> inside = new ArrayList<>(byStart.subList(i, byStart.size()));
            inside.sort(Comparator.comparingLong(Timed::after));
            double used = 0;
            for (Timed g : inside) {
                if (g.after() - a >= span) {
                    break;
                }
                used += g.units();
                assertThat(used).as("%s: units certainly granted in [%d, %d] ns", what, a, g.after())
                        .isLessThanOrEqualTo(capacity + ratePerNano * (g.after() - a) + 1e-6);
            }
        }
    }
}
