package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC L5 {@code TOKEN_BUCKET} and {@code GCRA}: every example runs on both, since GCRA is the same limit
 * stored as one number. Examples use 10 tokens per second: one token refills every 100 ms.
 */
public abstract class TokenBucketTck extends BackendTck {
    private static final Request ONE = Request.of("tokens", 1);

    private LimitSet bucket(RateAlgorithm algorithm) {
        return set(RateLimit.of("tokens", 10, Duration.ofSeconds(1), algorithm));
    }

    @ParameterizedTest
    @EnumSource(names = {"TOKEN_BUCKET", "GCRA"})
    @DisplayName("L5 a bucket starts full, bursts up to capacity, and refills continuously")
    void L5_starts_full_and_refills_continuously(RateAlgorithm algorithm) {
        LimitSet set = bucket(algorithm);
        // t=0: full, 10 tokens: ten grants of 1, the 11th refused.
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(10);
        // t=250 ms: 2.5 tokens refilled: 3 refused, 2 granted, 0.5 left.
        advanceTo(250 * MS);
        refused(set, Request.of("tokens", 3));
        granted(set, Request.of("tokens", 2));
        refused(set, ONE);
        // t=300 ms: 0.5 + 0.5 = 1 token.
        advanceTo(300 * MS);
        granted(set, ONE);
        refused(set, ONE);
        // A long idle period refills to capacity, never beyond.
        advanceTo(100 * SECOND);
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(10);
    }

    @ParameterizedTest
    @EnumSource(names = {"TOKEN_BUCKET", "GCRA"})
    @DisplayName("L5/L12 a blocking waiter is granted exactly when enough tokens have refilled")
    void L12_blocking_waiter_granted_at_exact_refill_instant(RateAlgorithm algorithm) {
        LimitSet set = bucket(algorithm);
        granted(set, Request.of("tokens", 10));
        // Empty at t=0; 3 tokens take 3 × 100 ms.
        assertGrantedExactlyAt(set, Request.of("tokens", 3), 300 * MS, WaitMode.BLOCKING);
        refused(set, ONE);
    }

    @ParameterizedTest
    @EnumSource(names = {"TOKEN_BUCKET", "GCRA"})
    @DisplayName("L5/L12 an async waiter is granted exactly when enough tokens have refilled")
    void L12_async_waiter_granted_at_exact_refill_instant(RateAlgorithm algorithm) {
        LimitSet set = bucket(algorithm);
        advanceTo(1 * SECOND);
        granted(set, Request.of("tokens", 7));
        // 3 tokens left at 1 s; 8 need 5 more: 500 ms.
        assertGrantedExactlyAt(set, Request.of("tokens", 8), 1_500 * MS, WaitMode.ASYNC);
    }

    @ParameterizedTest
    @EnumSource(names = {"TOKEN_BUCKET", "GCRA"})
    @DisplayName("L13 refund: settling below the amount requested gives the unused tokens back")
    void L13_refund_returns_unused_tokens(RateAlgorithm algorithm) {
        LimitSet set = bucket(algorithm);
        // Take 10, use 4: 6 come back at once.
        try (Acquisition acq = granted(set, Request.of("tokens", 10))) {
            acq.update("tokens", 4);
        }
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(6);
    }

    @ParameterizedTest
    @EnumSource(names = {"TOKEN_BUCKET", "GCRA"})
    @DisplayName("L13 refund never fills the bucket beyond capacity")
    void L13_refund_is_capped_at_capacity(RateAlgorithm algorithm) {
        LimitSet set = bucket(algorithm);
        Acquisition acq = granted(set, Request.of("tokens", 5));
        advanceTo(10 * SECOND);     // refilled to capacity long ago
        acq.update("tokens", 0);
        acq.close();
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(10);
    }

    @ParameterizedTest
    @EnumSource(names = {"TOKEN_BUCKET", "GCRA"})
    @DisplayName("L13 overuse: settling above the amount requested puts the bucket in debt")
    void L13_overuse_makes_later_requests_wait_longer(RateAlgorithm algorithm) {
        LimitSet set = bucket(algorithm);
        // Take 5, use 15: 10 - 15 = -5 tokens. One token needs 6 refills: 600 ms.
        try (Acquisition acq = granted(set, Request.of("tokens", 5))) {
            acq.update("tokens", 15);
        }
        refused(set, ONE);
        assertGrantedExactlyAt(set, ONE, 600 * MS, WaitMode.ASYNC);
    }

    @Test
    @DisplayName("L5 GCRA admits exactly what TOKEN_BUCKET admits on the same seeded random sequence")
    void L5_gcra_admits_exactly_what_token_bucket_admits() {
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        double capacity = 1 + random.nextInt(50);
        Duration window = Duration.ofMillis(100 + random.nextInt(2_000));
        LimitSet bucket = set(RateLimit.of("k", capacity, window, RateAlgorithm.TOKEN_BUCKET));
        LimitSet gcra = set(RateLimit.of("k", capacity, window, RateAlgorithm.GCRA));
        List<Acquisition[]> open = new ArrayList<>();
        int grants = 0;
        int refusals = 0;
        for (int step = 0; step < 3_000; step++) {
            String where = "seed " + seed + ", step " + step + ", capacity " + capacity + ", window " + window
                    + ", clock " + clock.nanoTime();
            int op = random.nextInt(10);
            if (op < 3) {
                // Some steps land on whole milliseconds, others anywhere.
                long nanos = random.nextBoolean() ? random.nextLong(window.toNanos() / 2) : random.nextInt(200) * MS;
                clock.advanceNanos(nanos);
            } else if (op < 8) {
                double amount = random.nextBoolean()
                        ? 1 + random.nextInt((int) capacity)
                        : Math.min(capacity, random.nextDouble() * capacity);
                Request request = Request.of("k", amount);
                Optional<Acquisition> a = bucket.tryAcquire(request);
                Optional<Acquisition> b = gcra.tryAcquire(request);
                assertThat(b.isPresent()).as("GCRA vs TOKEN_BUCKET decision for %s at %s", request, where)
                        .isEqualTo(a.isPresent());
                if (a.isPresent()) {
                    grants++;
                    open.add(new Acquisition[] {a.get(), b.get()});
                } else {
                    refusals++;
                }
            } else if (!open.isEmpty()) {
                Acquisition[] pair = open.remove(random.nextInt(open.size()));
                double requested = pair[0].granted().get("k");
                int kind = random.nextInt(3);
                if (kind > 0) {
                    double used = kind == 1 ? random.nextDouble() * requested : requested * (1 + random.nextDouble());
                    pair[0].update("k", used);
                    pair[1].update("k", used);
                }
                pair[0].close();
                pair[1].close();
            }
            assertThat(gcra.stats().key("k").available())
                    .as("available units at %s", where)
                    .isCloseTo(bucket.stats().key("k").available(),
                            org.assertj.core.data.Offset.offset(1e-6 * capacity));
        }
        assertThat(grants).as("seed %d: the sequence exercises grants", seed).isPositive();
        assertThat(refusals).as("seed %d: the sequence exercises refusals", seed).isPositive();
    }
}
