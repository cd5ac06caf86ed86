package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC L5 {@code FIXED_WINDOW}: a counter reset at every multiple of {@code window} since the backend's
 * epoch (the set's creation on the manual clock). Examples use 10 per second.
 */
public abstract class FixedWindowTck extends BackendTck {
    private static final Request ONE = Request.of("requests", 1);

    private LimitSet fixed() {
        return set(RateLimit.of("requests", 10, Duration.ofSeconds(1), RateAlgorithm.FIXED_WINDOW));
    }

    @Test
    @DisplayName("L5 windows are aligned to multiples of window from the set's creation; 2x capacity around a boundary")
    void L5_windows_aligned_to_epoch_allow_twice_capacity_around_boundary() {
        advanceTo(300 * MS);                 // the set is created at 300 ms: windows [0.3 s, 1.3 s), [1.3 s, 2.3 s)...
        LimitSet set = fixed();
        advanceTo(1_200 * MS);
        assertThat(grantsNow(set, ONE, 30)).isEqualTo(10);
        advanceTo(1_300 * MS - 1);
        refused(set, ONE);
        advanceTo(1_300 * MS);
        // A new window: 10 more, 20 within 100 ms + 1 ns (by design, documented).
        assertThat(grantsNow(set, ONE, 30)).isEqualTo(10);
        advanceTo(2_300 * MS - 1);
        refused(set, ONE);
    }

    @Test
    @DisplayName("L5 an idle window does not carry over: never more than capacity in one window")
    void L5_unused_capacity_does_not_carry_over() {
        LimitSet set = fixed();
        advanceTo(5_500 * MS);
        assertThat(grantsNow(set, ONE, 30)).isEqualTo(10);
    }

    @ParameterizedTest
    @EnumSource(WaitMode.class)
    @DisplayName("L5/L12 a waiter is granted exactly at the start of the next window")
    void L12_waiter_granted_at_next_window(WaitMode mode) {
        advanceTo(300 * MS);
        LimitSet set = fixed();
        advanceTo(700 * MS);
        granted(set, Request.of("requests", 8));
        // 2 left in [0.3 s, 1.3 s); 5 must wait for the window starting at 1.3 s.
        assertGrantedExactlyAt(set, Request.of("requests", 5), 1_300 * MS, mode);
        assertThat(grantsNow(set, ONE, 30)).isEqualTo(5);
    }

    @Test
    @DisplayName("L13 refund in the same window gives the unused units back")
    void L13_refund_in_current_window() {
        LimitSet set = fixed();
        try (Acquisition acq = granted(set, Request.of("requests", 10))) {
            acq.update("requests", 4);
        }
        assertThat(grantsNow(set, ONE, 30)).isEqualTo(6);
    }

    @Test
    @DisplayName("L13 overuse fills the current window: later requests wait for the next one")
    void L13_overuse_in_current_window() {
        LimitSet set = fixed();
        // Take 5 at 0, use 12: the window [0, 1 s) is over capacity; a request at 500 ms waits until 1 s.
        try (Acquisition acq = granted(set, Request.of("requests", 5))) {
            acq.update("requests", 12);
        }
        advanceTo(500 * MS);
        refused(set, ONE);
        assertGrantedExactlyAt(set, ONE, 1 * SECOND, WaitMode.ASYNC);
    }

    @Test
    @DisplayName("L13 overuse settled in a later window is charged to the window of the settlement")
    void L13_overuse_settled_in_a_later_window() {
        LimitSet set = fixed();
        advanceTo(900 * MS);
        Acquisition acq = granted(set, Request.of("requests", 5));
        advanceTo(1_100 * MS);
        acq.update("requests", 8);
        acq.close();
        assertThat(grantsNow(set, ONE, 30)).isEqualTo(7);
    }
}
