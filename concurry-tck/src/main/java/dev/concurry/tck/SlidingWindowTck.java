package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC L5 {@code SLIDING_WINDOW} (the default) and L6: the units granted in any interval of length
 * {@code window} never sum to more than capacity; a grant at t counts in [t, t + window). Examples use
 * 10 units per second unless stated.
 */
public abstract class SlidingWindowTck extends BackendTck {
    private static final Request ONE = Request.of("tokens", 1);

    private LimitSet sliding(double capacity, Duration window) {
        return set(RateLimit.of("tokens", capacity, window, RateAlgorithm.SLIDING_WINDOW));
    }

    @Test
    @DisplayName("L1 SLIDING_WINDOW is the default algorithm")
    void L1_sliding_window_is_the_default() {
        assertThat(RateLimit.of("tokens", 10, Duration.ofSeconds(1)).algorithm())
                .isEqualTo(RateAlgorithm.SLIDING_WINDOW);
    }

    @Test
    @DisplayName("L5 a grant at t counts in [t, t + window): not at t + window - 1 ns, free at t + window")
    void L5_grant_counts_in_half_open_window() {
        LimitSet set = sliding(10, Duration.ofSeconds(1));
        advanceTo(200 * MS);
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(10);
        advanceTo(1_200 * MS - 1);
        refused(set, ONE);
        assertThat(set.stats().key("tokens").available()).isZero();
        advanceTo(1_200 * MS);
        assertThat(set.stats().key("tokens").available()).isEqualTo(10);
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(10);
    }

    @ParameterizedTest
    @EnumSource(WaitMode.class)
    @DisplayName("L5/L12 a waiter is granted exactly when enough of the oldest grants leave the window")
    void L12_waiter_granted_when_oldest_grants_expire(WaitMode mode) {
        LimitSet set = sliding(10, Duration.ofSeconds(1));
        granted(set, Request.of("tokens", 4));            // t=0: 4 units, leave at 1 s
        advanceTo(300 * MS);
        granted(set, Request.of("tokens", 6));            // t=300 ms: 6 units, leave at 1.3 s
        advanceTo(500 * MS);
        // 3 units: the 4 leaving at 1 s are enough.
        Acquisition three = assertGrantedExactlyAt(set, Request.of("tokens", 3), 1_000 * MS, mode);
        // Now 6 (until 1.3 s) + 3 (until 2 s) in the window: 5 more need the 6 to leave.
        assertGrantedExactlyAt(set, Request.of("tokens", 5), 1_300 * MS, mode);
        three.close();
        refused(set, Request.of("tokens", 3));
    }

    @Test
    @DisplayName("L13 refund: unused units leave the window at once")
    void L13_refund_frees_units_in_the_window() {
        LimitSet set = sliding(10, Duration.ofSeconds(1));
        try (Acquisition acq = granted(set, Request.of("tokens", 10))) {
            acq.update("tokens", 4);
        }
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(6);
        advanceTo(1 * SECOND);
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(10);
    }

    @Test
    @DisplayName("L13 overuse: the grant counts for what was used, later requests wait until it leaves")
    void L13_overuse_counts_in_the_grants_window() {
        LimitSet set = sliding(10, Duration.ofSeconds(1));
        // Take 5 at 0, use 15: 15 units in [0, 1 s). At 500 ms nothing is free until 1 s.
        try (Acquisition acq = granted(set, Request.of("tokens", 5))) {
            acq.update("tokens", 15);
        }
        advanceTo(500 * MS);
        refused(set, ONE);
        assertGrantedExactlyAt(set, ONE, 1 * SECOND, WaitMode.ASYNC);
    }

    @Test
    @DisplayName("L13 overuse settled after the grant left the window counts from the settlement")
    void L13_late_overuse_counts_from_now() {
        LimitSet set = sliding(10, Duration.ofSeconds(1));
        Acquisition acq = granted(set, Request.of("tokens", 5));
        advanceTo(1_500 * MS);
        acq.update("tokens", 8);
        acq.close();
        // The 3 extra units count in [1.5 s, 2.5 s), like the 7 granted next to them.
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(7);
        advanceTo(2_500 * MS - 1);
        refused(set, ONE);
        advanceTo(2_500 * MS);
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(10);
    }

    @Test
    @DisplayName("L1 fractional capacity and amounts: 25 grants of 0.1 fill a capacity of 2.5 exactly")
    void L1_fractional_capacity_and_amounts() {
        LimitSet set = sliding(2.5, Duration.ofSeconds(1));
        // 0.1 is not exact in binary; 25 × 0.1 must still fit in 2.5 and a 26th must not.
        assertThat(grantsNow(set, Request.of("tokens", 0.1), 100)).isEqualTo(25);
        refused(set, Request.of("tokens", 0.01));
        advanceTo(1 * SECOND);
        granted(set, Request.of("tokens", 1.25));
        granted(set, Request.of("tokens", 1.25));
        refused(set, Request.of("tokens", 0.01));
    }

    @Test
    @DisplayName("L5 never more than capacity in any window: seeded random grants checked exactly")
    void L5_random_grants_never_exceed_capacity_in_any_window() {
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        long window = 1 * SECOND;
        double capacity = 20;
        LimitSet set = sliding(capacity, Duration.ofNanos(window));
        List<long[]> grants = new ArrayList<>();       // {time, units}
        int refusals = 0;
        for (int step = 0; step < 5_000; step++) {
            clock.advanceNanos(random.nextBoolean() ? random.nextLong(window / 10) : random.nextInt(10) * 10 * MS);
            long units = 1 + random.nextInt(5);
            var acq = set.tryAcquire(Request.of("tokens", units));
            if (acq.isPresent()) {
                grants.add(new long[] {clock.nanoTime(), units});
                if (random.nextInt(4) == 0) {
                    long used = random.nextInt((int) units + 1);
                    acq.get().update("tokens", used);
                    grants.getLast()[1] = used;
                }
                acq.get().close();
            } else {
                refusals++;
            }
        }
        assertThat(refusals).as("seed %d: the test must saturate the limit", seed).isPositive();
        // Every window [t, t + W) starting at a grant (the windows where sums change) holds <= capacity.
        for (int i = 0; i < grants.size(); i++) {
            long sum = 0;
            long start = grants.get(i)[0];
            for (int j = i; j < grants.size() && grants.get(j)[0] < start + window; j++) {
                sum += grants.get(j)[1];
            }
            assertThat((double) sum).as("seed %d: units granted in [%d, %d + W)", seed, start, start)
                    .isLessThanOrEqualTo(capacity);
        }
    }

    @Test
    @DisplayName("L6 a request of 10,000 tokens is one grant, not 10,000 entries: huge amounts stay cheap")
    void L6_memory_does_not_grow_with_amounts() {
        // One entry per unit would need 10^8 entries here: more than the test JVM's heap, and slow.
        LimitSet set = sliding(1e8, Duration.ofSeconds(1));
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            granted(set, Request.of("tokens", 10_000));
            granted(set, Request.of("tokens", 5e7));
            refused(set, Request.of("tokens", 5e7));
            granted(set, Request.of("tokens", 5e7 - 10_000));
            refused(set, ONE);
            advanceTo(1 * SECOND);
            granted(set, Request.of("tokens", 1e8));
        });
    }

    @Test
    @DisplayName("L6 many small grants at distinct instants stay bounded and never over-admit")
    void L6_many_grants_never_over_admit_and_expire() {
        long window = 1 * SECOND;
        LimitSet set = sliding(100_000, Duration.ofNanos(window));
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            // 20,000 grants of 1 unit, one every 20 µs: 400 ms, all in one window.
            for (int i = 0; i < 20_000; i++) {
                granted(set, ONE);
                clock.advanceNanos(20_000);
            }
            // 80,000 more fit in the window, then nothing until the first grants leave it.
            granted(set, Request.of("tokens", 80_000));
            refused(set, ONE);
            // A window after the last grant everything has left (merging only delays, by less than that).
            advanceTo(clock.nanoTime() + window);
            assertThat(set.stats().key("tokens").available()).isEqualTo(100_000);
            granted(set, Request.of("tokens", 100_000));
        });
    }
}
