package dev.concurry.limit.spi;

import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.DisplayName;
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
            assertThat(now).as("grant %d", k + 1).isCloseTo(Math.ceil(k * 1e9 / 3),
                    org.assertj.core.data.Offset.offset(1.0));
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

    @Test
    @DisplayName("A1 L6 a sliding window's memory is one fixed ring, whatever the capacity: 12,320 bytes (+ 48 of F2-F4)")
    void L6_sliding_window_state_size_does_not_depend_on_capacity() {
        for (double capacity : new double[] {0.5, 5, 500, 1e9}) {
            LimitMath sliding = new LimitMath(RateLimit.of("r", capacity, Duration.ofMinutes(1)), 0);
            assertThat(8 * sliding.stateSize()).as("bytes for capacity %s", capacity)
                    .isEqualTo(12_320 + 8 * LimitMath.FEEDBACK_WORDS);
        }
    }

    @Test
    @DisplayName("A1 L6 until the ring is full every grant has its own entry and leaves at exactly t + window")
    void L6_sliding_window_is_exact_until_the_ring_is_full() {
        double window = 10e9;
        LimitMath sliding = new LimitMath(RateLimit.of("r", 10_000, Duration.ofNanos((long) window)), 0);
        double[] state = new double[sliding.stateSize()];
        sliding.init(state, 0);
        int grants = LimitMath.SW_RING;
        for (int i = 0; i < grants; i++) {
            sliding.commit(state, i * 1e6, 1 + i % 3, i + 1);
        }
        double total = sliding.inUse(state, grants * 1e6);
        for (int i = 0; i < grants; i++) {
            double leaves = i * 1e6 + window;
            assertThat(sliding.inUse(state, leaves - 1)).as("grant %d still counts 1 ns before", i).isEqualTo(total);
            total -= 1 + i % 3;
            assertThat(sliding.inUse(state, leaves)).as("grant %d left at its own time + window", i).isEqualTo(total);
        }
    }

    @Test
    @DisplayName("A1 L6/L13 a compacted ring counts every unit from its grant and at most a cell past its window, "
            + "and refunds by sequence number find merged grants")
    void L6_compaction_delays_expiry_by_less_than_a_cell_and_keeps_settlement_exact() {
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        double window = 60e9;
        double capacity = 1e6;
        LimitMath sliding = new LimitMath(RateLimit.of("r", capacity, Duration.ofNanos((long) window)), 0);
        double cell = 2 * window / LimitMath.SW_RING;
        double[] state = new double[sliding.stateSize()];
        sliding.init(state, 0);
        List<double[]> grants = new ArrayList<>();       // {time, units}: the exact record
        double now = 0;
        for (long seq = 1; seq <= 30_000; seq++) {
            now += random.nextInt(4) == 0 ? 0 : random.nextDouble(2 * window / 5_000);
            double units = 1 + random.nextInt(20);
            if (sliding.waitTime(state, now, units) == 0) {
                sliding.commit(state, now, units, seq);
                grants.add(new double[] {now, units});
            } else {
                grants.add(new double[] {now, 0});      // refused: keeps the index equal to seq - 1
            }
            if (random.nextInt(5) == 0) {
                // Refund part of a grant still in its window (an exact window would still hold it).
                int k = grants.size() - 1 - random.nextInt(Math.min(grants.size(), 3_000));
                double[] g = grants.get(k);
                if (g[1] > 0 && g[0] + window > now) {
                    double used = random.nextInt((int) g[1] + 1);
                    sliding.settle(state, now, k + 1, seq, g[1], used);
                    g[1] = used;
                }
            }
            if (seq % 97 == 0) {
                double at = now + random.nextDouble(window + 2 * cell);
                double exact = 0;
                double latest = 0;
                for (double[] g : grants) {
                    exact += g[0] + window > at ? g[1] : 0;
                    latest += g[0] + window + cell > at ? g[1] : 0;
                }
                String where = "seed " + seed + ", at " + at + " after grant " + seq;
                assertThat(sliding.inUse(state, at)).as(where + ": nothing leaves early")
                        .isGreaterThanOrEqualTo(exact - 1e-6);
                assertThat(sliding.inUse(state, at)).as(where + ": nothing stays a cell late")
                        .isLessThanOrEqualTo(latest + 1e-6);
            }
        }
    }
}
