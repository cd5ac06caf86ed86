package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.time.ManualClock;
import dev.concurry.time.MonotonicClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SPEC L24: threads hammer many keys of one family — grants, waits, timeouts, refunds and overuse —
 * while its keys are dropped and created again as fast as the family allows (an idle tick of 50 µs),
 * and an independent log checks every key for the two ways a racing eviction would show:
 * <ul>
 *   <li><b>a lost permit</b>: more holders of a key's 2 {@code conn} permits at once than 2. Holders are
 *       counted after the grant returns and uncounted before the close, so the count is never above
 *       the truth;</li>
 *   <li><b>a forgiven debt or a lost grant</b>: for a token bucket of C units refilled at rate r, the
 *       units taken in any interval (grants, and overuse charged by settlements) minus the units
 *       refunded in it never exceed C + r × its length. A key dropped while it still counted comes back
 *       full and breaks this.</li>
 * </ul>
 * The check only counts what is certain. Each call is bracketed by two stamps: a ticket of one global
 * sequence with the clock, taken just before it starts and just after it returns. A grant j's decision
 * lies between its stamps; an event k certainly came before it when k's call returned before j's began
 * (k's after-ticket is below j's before-ticket; equal clock readings say nothing about the order within
 * one instant). For an interval from t1 to the decision of grant j: taken events that began at or after
 * t1 and certainly came before j are counted; refunds are subtracted if they could be inside (they ended
 * at or after t1 and began before some grant up to j returned); the refill is counted up to j's
 * after-time. It can miss a violation, never invent one. Intervals longer than four windows are not
 * checked (a dropped debt shows within one). A synthetic log with a forgiven debt shows that the check
 * catches one.
 */
class KeyedEvictionStressTest {
    private static final int THREADS = 4;
    private static final int KEYS = 24;
    private static final int HOT_KEYS = 3;
    private static final double CAPACITY = 4;
    private static final int PERMITS = 2;
    private static final long RUN_NANOS = Duration.ofMillis(1_500).toNanos();

    /** A ticket of the global sequence and a clock reading. */
    record Stamp(long ticket, long time) {
    }

    /**
     * Stamps calls. A ticket and its clock reading are taken together under one lock, so that ticket
     * order is also time order (the clock never goes back), which the check's searches rely on.
     */
    static final class Stamps {
        private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
        private final LongSupplier clock;
        private long tickets;

        Stamps(LongSupplier clock) {
            this.clock = clock;
        }

        Stamp next() {
            lock.lock();
            try {
                return new Stamp(++tickets, clock.getAsLong());
            } finally {
                lock.unlock();
            }
        }
    }

    /** One logged event of a key: a grant (units 1) or a settlement (units used - requested). */
    record Event(boolean grant, Stamp before, Stamp after, double units) {
        /** An event of tests: one instant, tickets in the order given. */
        static Event at(boolean grant, long ticket, long time, double units) {
            return new Event(grant, new Stamp(2 * ticket, time), new Stamp(2 * ticket + 1, time), units);
        }
    }

    @ParameterizedTest(name = "{0} clock")
    @ValueSource(strings = {"manual", "system"})
    @DisplayName("L24 eviction racing acquisitions never loses a held permit nor forgives a debt")
    void L24_eviction_never_loses_a_permit_or_forgives_a_debt(String clockKind) throws InterruptedException {
        boolean manual = clockKind.equals("manual");
        ManualClock manualClock = new ManualClock();
        MonotonicClock clock = manual ? manualClock : MonotonicClock.system();
        // Manual: the driver below moves time 20 µs a step. System: real time, so a longer window.
        long window = manual ? 1_000_000 : 2_000_000;
        long idle = manual ? 50_000 : 200_000;
        double rate = CAPACITY / window;
        KeyedLimits<Integer> family = KeyedLimits.<Integer>builder().name("stress")
                .add(RateLimit.of("units", CAPACITY, Duration.ofNanos(window), RateAlgorithm.TOKEN_BUCKET))
                .add(ResourceLimit.of("conn", PERMITS))
                .backend(Backends.inMemory(clock)).evictIdleAfter(Duration.ofNanos(idle)).build();
        List<ConcurrentLinkedQueue<Event>> logs = new ArrayList<>();
        List<AtomicInteger> holders = new ArrayList<>();
        for (int k = 0; k < KEYS; k++) {
            logs.add(new ConcurrentLinkedQueue<>());
            holders.add(new AtomicInteger());
        }
        AtomicInteger mostHolders = new AtomicInteger();
        AtomicLong grants = new AtomicLong();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        long seed = System.nanoTime();
        long end = System.nanoTime() + RUN_NANOS;
        Stamps stamps = new Stamps(clock::nanoTime);

        // Time moves until every acquirer is done: a waiter's timeout is manual time too.
        java.util.concurrent.atomic.AtomicBoolean acquiring = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread driver = Thread.ofPlatform().daemon().start(() -> {
            while (manual && acquiring.get()) {
                manualClock.advanceNanos(20_000);
                Thread.yield();
            }
        });
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            SplittableRandom random = new SplittableRandom(seed + t);
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    while (System.nanoTime() - end < 0) {
                        int key = random.nextBoolean() ? random.nextInt(HOT_KEYS) : random.nextInt(KEYS);
                        if (once(family, key, random, stamps, logs.get(key), holders.get(key), mostHolders)) {
                            grants.incrementAndGet();
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        acquiring.set(false);
        driver.join();
        String context = "seed " + seed + ", " + clockKind + " clock";
        assertThat(failures).as(context).isEmpty();
        assertThat(mostHolders.get()).as("most holders of one key's %d permits at once (%s)", PERMITS, context)
                .isLessThanOrEqualTo(PERMITS);
        KeyedStats stats = family.keyedStats();
        assertThat(stats.evicted()).as("keys were dropped while others were used (%s): %s", context, stats)
                .isGreaterThan(50);
        assertThat(grants.get()).as(context).isGreaterThan(1_000);

        double fullest = 0;
        for (int k = 0; k < KEYS; k++) {
            List<Event> log = new ArrayList<>(logs.get(k));
            Check check = check(log, CAPACITY, rate, 4 * window);
            assertThat(check.violation()).as("key %d (%s)", k, context).isNull();
            fullest = Math.max(fullest, check.fullest());
        }
        assertThat(fullest).as("the check summed nearly full buckets (%s)", context).isGreaterThan(0.75);

        // Nothing stays pinned: once time passes, every key is idle and dropped.
        if (manual) {
            manualClock.advance(Duration.ofSeconds(1));
        } else {
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (family.keyedStats().keys() > 0 && System.nanoTime() - deadline < 0) {
                Thread.sleep(1);
            }
        }
        assertThat(family.keyedStats().keys()).as("keys left after the run (%s): %s", context, family.keyedStats())
                .isZero();
        family.close();
    }

    /** One acquisition of {@code key} in a random form, held briefly and settled to a random usage. */
    private static boolean once(KeyedLimits<Integer> family, int key, SplittableRandom random, Stamps stamps,
            ConcurrentLinkedQueue<Event> log, AtomicInteger holders, AtomicInteger mostHolders) {
        Request request = Request.of("units", 1).and("conn", 1);
        Stamp before = stamps.next();
        Acquisition acq;
        int form = random.nextInt(10);
        try {
            if (form < 6) {
                acq = family.tryAcquire(key, request).orElse(null);
            } else if (form < 8) {
                acq = family.acquire(key, request, Duration.ofNanos(300_000));
            } else {
                acq = family.acquireAsync(key, request, Duration.ofNanos(300_000)).join();
            }
        } catch (AcquireTimeoutException | java.util.concurrent.CompletionException timedOut) {
            return false;
        }
        if (acq == null) {
            return false;
        }
        Stamp after = stamps.next();
        mostHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
        log.add(new Event(true, before, after, 1));
        for (int spin = random.nextInt(20); spin > 0; spin--) {
            Thread.onSpinWait();
        }
        int used = random.nextInt(4);                // 0: refund 1; 1: as requested; 2, 3: overuse 1, 2
        holders.decrementAndGet();
        Stamp settleBefore = stamps.next();
        acq.update("units", used).close();
        log.add(new Event(false, settleBefore, stamps.next(), used - 1));
        return true;
    }

    /** The first interval that broke the bound (or null), and the fullest fraction of it any interval reached. */
    record Check(String violation, double fullest) {
    }

    /** See the class comment: every interval from the start of a taken event to a grant at most {@code longest} later. */
    static Check check(List<Event> log, double capacity, double rate, long longest) {
        List<Event> taken = new ArrayList<>();
        List<Event> refunds = new ArrayList<>();
        List<Event> grants = new ArrayList<>();
        for (Event e : log) {
            if (e.grant()) {
                taken.add(e);
                grants.add(e);
            } else if (e.units() > 0) {
                taken.add(e);
            } else if (e.units() < 0) {
                refunds.add(e);
            }
        }
        // Tickets are taken in real-time order and the clock never goes back: ticket order is time order.
        taken.sort(Comparator.comparingLong(e -> e.after().ticket()));
        refunds.sort(Comparator.comparingLong(e -> e.before().ticket()));
        grants.sort(Comparator.comparingLong(e -> e.before().ticket()));
        long refundSpan = 0;
        for (Event r : refunds) {
            refundSpan = Math.max(refundSpan, r.after().time() - r.before().time());
        }
        double fullest = 0;
        for (Event start : taken) {
            long t1 = start.before().time();
            // Skip what cannot count: taken events that ended before t1, refunds that began too early.
            int nextTaken = firstAtOrAfter(taken, t1, e -> e.after().time());
            int nextRefund = firstAtOrAfter(refunds, t1 - refundSpan, e -> e.before().time());
            double sumTaken = 0;
            double sumRefunded = 0;
            long horizon = Long.MIN_VALUE;
            for (int g = firstAtOrAfter(grants, t1, e -> e.before().time()); g < grants.size(); g++) {
                Event j = grants.get(g);
                if (j.before().time() - t1 > longest) {
                    break;
                }
                horizon = Math.max(horizon, j.after().ticket());
                while (nextTaken < taken.size() && taken.get(nextTaken).after().ticket() < j.before().ticket()) {
                    Event k = taken.get(nextTaken++);
                    if (k.before().time() >= t1) {
                        sumTaken += k.units();
                    }
                }
                while (nextRefund < refunds.size() && refunds.get(nextRefund).before().ticket() < horizon) {
                    Event r = refunds.get(nextRefund++);
                    if (r.after().time() >= t1) {
                        sumRefunded -= r.units();
                    }
                }
                double lhs = sumTaken + j.units() - sumRefunded;
                double rhs = capacity + rate * (j.after().time() - t1);
                if (lhs > rhs + 1e-9) {
                    StringBuilder near = new StringBuilder();
                    for (Event e : log) {
                        if (e.after().time() >= t1 && e.before().ticket() <= j.after().ticket()) {
                            near.append("\n  ").append(e);
                        }
                    }
                    return new Check(
                            "from " + t1 + " ns to the grant " + j + ": " + lhs + " units taken net of refunds,"
                                    + " at most " + rhs + " allowed; events:" + near,
                            fullest);
                }
                fullest = Math.max(fullest, lhs / rhs);
            }
        }
        return new Check(null, fullest);
    }

    /** The first index of {@code sorted} whose {@code time} (non-decreasing along it) is at least {@code t}. */
    private static int firstAtOrAfter(List<Event> sorted, long t, java.util.function.ToLongFunction<Event> time) {
        int low = 0;
        int high = sorted.size();
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (time.applyAsLong(sorted.get(mid)) < t) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        return low;
    }

    @Test
    @DisplayName("L24 the checker catches a forgiven debt (a bucket in debt coming back full)")
    void the_checker_catches_a_forgiven_debt() {
        double rate = CAPACITY / 1_000_000.0;
        List<Event> honest = List.of(
                Event.at(true, 1, 0, 1), Event.at(false, 2, 0, 2),              // 1 granted, 3 used: 1 token left
                Event.at(true, 3, 750_000, 1));                                  // 3 tokens back by 750 µs
        assertThat(check(honest, CAPACITY, rate, 1_000_000).violation()).isNull();
        List<Event> forgiven = List.of(
                Event.at(true, 1, 0, 1), Event.at(false, 2, 0, 2),
                Event.at(true, 3, 0, 1), Event.at(true, 4, 0, 1));             // as if dropped and back full
        assertThat(check(forgiven, CAPACITY, rate, 1_000_000).violation()).isNotNull()
                .contains("units taken net of refunds");
        Optional<String> none = Optional.ofNullable(check(List.of(), CAPACITY, rate, 1_000_000).violation());
        assertThat(none).isEmpty();
    }
}
