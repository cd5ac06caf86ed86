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
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The lock-free grants of a set of several small limits (InMemoryStore's snapshot path: two token
 * buckets and a resource limit) racing the locked path — blocking acquires with timeouts that queue
 * waiters, settlements with usage, stats — on platform and virtual threads. Independent checks:
 * <ul>
 *   <li>all or nothing: every request takes 1 request and 10 tokens from two buckets of proportional
 *       size, so in any consistent snapshot the tokens in use are exactly ten times the requests in use;
 *       a request seen half taken breaks it (a probe thread reads snapshots all along);</li>
 *   <li>each bucket: the units of grants certainly made inside any interval never exceed capacity plus
 *       what refills in it;</li>
 *   <li>the resource: the logged holding intervals never overlap more than its permits deep, and every
 *       permit is back at the end.</li>
 * </ul>
 */
class SnapshotLockFreeStressTest {
    private static final double REQUESTS = 50;
    private static final double TOKENS = 500;
    private static final int PERMITS = 3;
    private static final Duration WINDOW = Duration.ofMillis(100);

    /** {before acquire, after acquire, before release (-1 if no permit), requests used}. */
    private record Grant(long before, long after, long released, double requests) {
    }

    @Test
    void L5_L8_L16_lock_free_and_locked_grants_of_several_limits_are_all_or_nothing_and_never_exceed()
            throws Exception {
        LimitSet set = LimitSet.builder()
                .add(RateLimit.of("requests", REQUESTS, WINDOW, RateAlgorithm.TOKEN_BUCKET))
                .add(RateLimit.of("tokens", TOKENS, WINDOW, RateAlgorithm.TOKEN_BUCKET))
                .add(ResourceLimit.of("conn", PERMITS))
                .build();
        ConcurrentLinkedQueue<Grant> log = new ConcurrentLinkedQueue<>();
        AtomicReference<String> torn = new AtomicReference<>();
        long seed = System.nanoTime();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
        Thread probe = Thread.ofPlatform().start(() -> {
            while (System.nanoTime() - end < 0 && torn.get() == null) {
                LimitStats stats = set.stats();
                double requests = stats.key("requests").inUse();
                double tokens = stats.key("tokens").inUse();
                if (Math.abs(tokens - 10 * requests) > 1e-6) {
                    torn.set("tokens " + tokens + " vs requests " + requests);
                }
                LockSupport.parkNanos(20_000);
            }
        });
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 24; t++) {
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
        probe.join(TimeUnit.SECONDS.toMillis(30));

        assertThat(torn.get()).as("a request seen partly taken (seed %d)", seed).isNull();
        List<Grant> grants = new ArrayList<>(log);
        assertThat(grants.size()).as("seed %d", seed).isGreaterThan(100);
        assertThat(((LimitEngine) set).fastGrants()).as("grants made without the lock").isPositive();
        LimitStats stats = set.stats();
        assertThat(stats.granted()).isEqualTo(grants.size());
        assertThat(stats.key("conn").inUse()).as("every permit is back").isZero();
        assertBucket(grants, REQUESTS, 1, seed);
        assertBucket(grants, TOKENS, 10, seed);
        List<long[]> events = new ArrayList<>();
        for (Grant g : grants) {
            if (g.released() >= 0) {
                events.add(new long[] {g.after(), 1});
                events.add(new long[] {g.released(), -1});
            }
        }
        events.sort(Comparator.<long[]>comparingLong(e -> e[0]).thenComparingLong(e -> e[1]));
        int depth = 0;
        for (long[] e : events) {
            depth += (int) e[1];
            assertThat(depth).as("permits certainly held at once (seed %d)", seed).isLessThanOrEqualTo(PERMITS);
        }
    }

    /** Over any [a, b], units of grants certainly made inside never exceed capacity + rate × (b − a). */
    private static void assertBucket(List<Grant> grants, double capacity, double unitsPerRequest, long seed) {
        double ratePerNano = capacity / WINDOW.toNanos();
        List<Grant> byStart = new ArrayList<>(grants);
        byStart.sort(Comparator.comparingLong(Grant::before));
        for (int i = 0; i < byStart.size(); i++) {
            long a = byStart.get(i).before();
            List<Grant> inside = new ArrayList<>(byStart.subList(i, byStart.size()));
            inside.sort(Comparator.comparingLong(Grant::after));
            double used = 0;
            for (Grant g : inside) {
                used += g.requests() * unitsPerRequest;
                assertThat(used).as("units certainly granted in [%d, %d] ns (seed %d)", a, g.after(), seed)
                        .isLessThanOrEqualTo(capacity + ratePerNano * (g.after() - a) + 1e-6);
            }
        }
    }

    private static void hammerOnce(LimitSet set, SplittableRandom random, ConcurrentLinkedQueue<Grant> log) {
        boolean conn = random.nextInt(3) == 0;
        Request request = conn
                ? Request.of("requests", 1).and("tokens", 10).and("conn", 1)
                : Request.of("requests", 1).and("tokens", 10);
        long before = System.nanoTime();
        Acquisition acq;
        if (random.nextInt(10) < 7) {
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
        double requests = 1;
        if (random.nextInt(8) == 0) {
            requests = 0;                                       // a refund, settled under the lock
            acq.update(java.util.Map.of("requests", 0, "tokens", 0));
        }
        if (conn) {
            LockSupport.parkNanos(random.nextInt(200_000));
        }
        long released = conn ? System.nanoTime() : -1;
        acq.close();
        log.add(new Grant(before, after, released, requests));
    }
}
