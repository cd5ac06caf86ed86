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
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * SPEC L5 {@code LEAKY_BUCKET}: no bursts; each grant starts once everything granted before it has
 * drained at r = capacity / window. Examples use 10 per second: one unit drains every 100 ms.
 */
public abstract class LeakyBucketTck extends BackendTck {
    private static final Request ONE = Request.of("requests", 1);

    private LimitSet leaky(double capacity, Duration window) {
        return set(RateLimit.of("requests", capacity, window, RateAlgorithm.LEAKY_BUCKET));
    }

    @Test
    @DisplayName("L5 no burst: a fresh leaky bucket admits one request, then one per drain interval")
    void L5_admits_no_burst() {
        LimitSet set = leaky(10, Duration.ofSeconds(1));
        granted(set, ONE);           // drains by 100 ms
        refused(set, ONE);
        advanceTo(100 * MS - ROUNDING);
        refused(set, ONE);
        advanceTo(100 * MS);
        granted(set, ONE);           // drains by 200 ms
        refused(set, ONE);
        // An idle bucket is empty, not "full of credit": still one at a time.
        advanceTo(10 * SECOND);
        assertThat(grantsNow(set, ONE, 20)).isEqualTo(1);
    }

    @Test
    @DisplayName("L5 500 per minute admits one request every 120 ms, waiters granted exactly on time")
    void L5_500_per_minute_spaces_grants_120_ms_apart() {
        LimitSet set = leaky(500, Duration.ofMinutes(1));
        granted(set, ONE);
        List<Future<Acquisition>> waiters = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            waiters.add(asyncAcquire(set, ONE));
        }
        for (int i = 0; i < 5; i++) {
            long due = (i + 1) * 120 * MS;
            advanceTo(due - 1);
            assertThat(set.stats().waiting()).as("waiters left 1 ns before %d ms", due / MS).isEqualTo(5 - i);
            advanceTo(due);
            await(waiters.get(i));
            assertThat(set.stats().waiting()).as("waiters left at %d ms", due / MS).isEqualTo(4 - i);
        }
    }

    @ParameterizedTest
    @EnumSource(WaitMode.class)
    @DisplayName("L5/L12 a larger grant drains longer: the next waiter waits for all of it, exactly")
    void L12_waiter_granted_when_previous_grant_has_drained(WaitMode mode) {
        LimitSet set = leaky(10, Duration.ofSeconds(1));
        granted(set, Request.of("requests", 3));         // drains by 300 ms
        assertGrantedExactlyAt(set, ONE, 300 * MS, mode);
    }

    @Test
    @DisplayName("L5 fractional units drain exactly: 0.5 unit at 10/s every 50 ms")
    void L5_fractional_amounts_drain_without_loss() {
        LimitSet set = leaky(10, Duration.ofSeconds(1));
        Request half = Request.of("requests", 0.5);
        granted(set, half);
        List<Future<Acquisition>> waiters = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            waiters.add(asyncAcquire(set, half));
        }
        for (int i = 0; i < 4; i++) {
            long due = (i + 1) * 50 * MS;
            advanceTo(due - 1);
            assertThat(waiters.get(i)).as("waiter %d before %d ms", i, due / MS).isNotDone();
            assertThat(set.stats().waiting()).isEqualTo(4 - i);
            advanceTo(due);
            await(waiters.get(i));
        }
    }

    @Test
    @DisplayName("L5 drain progress between polls is kept: 3 per second polled every 100 ms")
    void L5_drain_progress_between_polls_is_not_lost() {
        // Each unit drains in 333.3 ms. Polls at whole 100 ms steps must succeed at the first poll at
        // or after the drain instant; an implementation that rounds the drained amount down at each
        // poll (0.3 units per poll) would never admit again.
        LimitSet set = leaky(3, Duration.ofSeconds(1));
        List<Long> grantedAt = new ArrayList<>();
        for (long t = 0; t <= 2 * SECOND; t += 100 * MS) {
            advanceTo(t);
            if (set.tryAcquire(ONE).isPresent()) {
                grantedAt.add(t / MS);
            }
        }
        // 0 → drained at 333.3 → poll 400 → drained at 733.3 → poll 800 → 1133.3 → 1200 → 1600 → 2000
        assertThat(grantedAt).containsExactly(0L, 400L, 800L, 1200L, 1600L, 2000L);
    }

    @Test
    @DisplayName("L13 refund: unused units stop counting, the next request may start earlier")
    void L13_refund_shortens_the_drain() {
        LimitSet set = leaky(10, Duration.ofSeconds(1));
        // Take 5 (drains by 500 ms), use 2: drains by 200 ms.
        try (Acquisition acq = granted(set, Request.of("requests", 5))) {
            acq.update("requests", 2);
        }
        refused(set, ONE);
        assertGrantedExactlyAt(set, ONE, 200 * MS, WaitMode.ASYNC);
    }

    @Test
    @DisplayName("L13 overuse: units used beyond the request drain too, later requests wait longer")
    void L13_overuse_delays_the_next_grant() {
        LimitSet set = leaky(10, Duration.ofSeconds(1));
        // Take 2 (drains by 200 ms), use 7: drains by 700 ms.
        try (Acquisition acq = granted(set, Request.of("requests", 2))) {
            acq.update("requests", 7);
        }
        assertGrantedExactlyAt(set, ONE, 700 * MS, WaitMode.BLOCKING);
    }
}
