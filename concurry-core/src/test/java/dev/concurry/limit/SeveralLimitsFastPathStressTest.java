package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The grants without the engine's lock of a set of several limits (InMemoryStore's exclusive path: a
 * spin lock around the algorithm) racing the locked path — blocking acquires with timeouts that queue
 * waiters, settlements with usage, stats — on platform and virtual threads: two token buckets and a
 * resource limit, and two sliding windows and a resource limit. Independent checks:
 * <ul>
 *   <li>all or nothing: every request takes 1 request and 10 tokens from two limits of proportional
 *       size, so in any consistent snapshot the tokens in use are exactly ten times the requests in use;
 *       a request seen half taken breaks it (a probe thread reads snapshots all along);</li>
 *   <li>each bucket: the units of grants certainly made inside any interval never exceed capacity plus
 *       what refills in it; each sliding window: the units of grants certainly made inside any interval
 *       shorter than the window never exceed capacity (SPEC L6);</li>
 *   <li>the resource: the logged holding intervals never overlap more than its permits deep, and every
 *       permit is back at the end.</li>
 * </ul>
 */
class SeveralLimitsFastPathStressTest {
    private static final double REQUESTS = 50;
    private static final double TOKENS = 500;
    private static final int PERMITS = 3;
    private static final Duration WINDOW = Duration.ofMillis(100);

    /** {before acquire, after acquire, before release (-1 if no permit), requests used}. */
    private record Grant(long before, long after, long released, double requests) {
    }

    @ParameterizedTest
    @EnumSource(value = RateAlgorithm.class, names = {"TOKEN_BUCKET", "SLIDING_WINDOW"})
    void L5_L6_L8_L16_grants_without_and_with_the_lock_are_all_or_nothing_and_never_exceed(RateAlgorithm algorithm)
            throws Exception {
        LimitSet set = LimitSet.builder()
                .add(RateLimit.of("requests", REQUESTS, WINDOW, algorithm))
                .add(RateLimit.of("tokens", TOKENS, WINDOW, algorithm))
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
        GrantChecks.hammer(24, seed, end, random -> hammerOnce(set, random, log));
        probe.join(TimeUnit.SECONDS.toMillis(30));

        assertThat(torn.get()).as("a request seen partly taken (seed %d)", seed).isNull();
        List<Grant> grants = new ArrayList<>(log);
        assertThat(grants.size()).as("seed %d", seed).isGreaterThan(100);
        assertThat(((LimitEngine) set).fastGrants()).as("grants made without the lock").isPositive();
        LimitStats stats = set.stats();
        assertThat(stats.granted()).isEqualTo(grants.size());
        assertThat(stats.key("conn").inUse()).as("every permit is back").isZero();
        List<GrantChecks.Timed> requests = new ArrayList<>();
        List<GrantChecks.Timed> tokens = new ArrayList<>();
        for (Grant g : grants) {
            requests.add(new GrantChecks.Timed(g.before(), g.after(), g.requests()));
            tokens.add(new GrantChecks.Timed(g.before(), g.after(), 10 * g.requests()));
        }
        if (algorithm == RateAlgorithm.SLIDING_WINDOW) {
            GrantChecks.assertWindow(requests, REQUESTS, WINDOW, "requests, seed " + seed);
            GrantChecks.assertWindow(tokens, TOKENS, WINDOW, "tokens, seed " + seed);
        } else {
            GrantChecks.assertBucket(requests, REQUESTS, WINDOW, "requests, seed " + seed);
            GrantChecks.assertBucket(tokens, TOKENS, WINDOW, "tokens, seed " + seed);
        }
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

    private static void hammerOnce(LimitSet set, SplittableRandom random, ConcurrentLinkedQueue<Grant> log) {
        boolean conn = random.nextInt(3) == 0;
        Request request = conn
                ? Request.of("requests", 1).and("tokens", 10).and("conn", 1)
                : Request.of("requests", 1).and("tokens", 10);
        long before = System.nanoTime();
        Acquisition acq = GrantChecks.tryOrAcquire(set, request, random, 50_000);
        if (acq == null) {
            return;
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
