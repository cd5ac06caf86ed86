package dev.concurry.limit.spi;

import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class LimitMathTest {

    @Test
    void L5_leaky_bucket_keeps_fractional_drain_progress_when_waiters_wake_on_whole_nanoseconds() {
        // 3 per second: one unit drains every 333,333,333.33 ns, which no nanosecond clock can hit.
        LimitMath leaky = new LimitMath(RateLimit.of("r", 3, Duration.ofSeconds(1), RateAlgorithm.LEAKY_BUCKET), 0);
        double[] state = new double[leaky.stateSize()];
        leaky.init(state, 0);
        double now = 0;
        for (int k = 1; k <= 1_000; k++) {
            leaky.commit(state, now, 1, k);
            double wait;
            while ((wait = leaky.waitTime(state, now, 1)) > 0) {         // how a waiter is woken
                now += Math.max(Math.ceil(wait - 1e-6), 1);             // the engine's wake-up instant
            }
            // On the exact grid k/3 s give or take the nanosecond of float noise: no drift builds up.
            assertThat(now).as("grant %d", k + 1).isCloseTo(Math.ceil(k * 1e9 / 3), org.assertj.core.data.Offset.offset(1.0));
        }
    }

    @Test
    void L6_a_sliding_window_keeps_one_entry_per_acquisition_at_most_and_merges_conservatively() {
        LimitMath sliding = new LimitMath(RateLimit.of("tokens", 1_000_000, Duration.ofSeconds(60)), 0);
        double[] state = new double[sliding.stateSize()];
        sliding.init(state, 0);

        sliding.commit(state, 0, 10_000, 1);                       // one entry, not 10,000
        assertThat(sliding.stateSize()).isLessThanOrEqualTo(4 + 3 * 1024);
        for (int i = 1; i <= 5_000; i++) {                          // more grants than the ring holds
            sliding.commit(state, i, 1, i + 1);
        }
        assertThat(sliding.inUse(state, 5_000)).isEqualTo(15_000);
        // Merged entries expire no earlier than their grants: nothing leaves the window early.
        assertThat(sliding.inUse(state, 60e9 - 1)).isEqualTo(15_000);
        assertThat(sliding.inUse(state, 60e9 + 5_000)).isZero();
    }
}
