package dev.concurry.limit.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Limit;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link SetAlgorithms#tryGrant} takes a request of one limit in one fused step ({@code LimitMath.tryTake}:
 * a sliding window without provider feedback in force expires its ring and reads its feedback words
 * once). It must leave exactly the state the two-step definition leaves — {@link SetAlgorithms#waitTime}
 * 0, then {@link SetAlgorithms#commit} — word for word, through thousands of grants per window (full
 * rings, compaction, expiry), refunds and overuse, and provider reports (budgets, pauses, adopted
 * scales) that switch the fused step off and on again.
 */
class OneLimitTryGrantTest {

    @ParameterizedTest
    @EnumSource(RateAlgorithm.class)
    void L5_L6_F2_F4_the_fused_one_limit_grant_leaves_the_state_of_check_then_commit(RateAlgorithm algorithm) {
        long seed = System.nanoTime();
        for (int run = 0; run < 20; run++) {
            replay(algorithm, seed + run);
        }
    }

    private static void replay(RateAlgorithm algorithm, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double capacity = new double[] {5, 100, 10_000}[random.nextInt(3)];
        Duration window = Duration.ofMillis(1 + random.nextInt(1_000));
        List<Limit> limits = List.of(RateLimit.of("k", capacity, window, algorithm));
        LimitSetDefinition definition = new LimitSetDefinition("fused", limits, Map.of());
        SetAlgorithms algorithms = new SetAlgorithms(limits);
        double[] fused = algorithms.newState(0);
        double[] stepwise = algorithms.newState(0);
        List<long[]> granted = new ArrayList<>();       // {seq, units}
        double now = 0;
        int grants = 0;
        for (int op = 0; op < 6_000; op++) {
            int choice = random.nextInt(100);
            if (choice < 30) {
                // Mostly far below a cell, so that a window holds thousands of grants and the ring fills.
                now += random.nextInt(10) == 0 ? random.nextDouble() * window.toNanos() : random.nextInt(2_000);
            } else if (choice < 85) {
                double units = random.nextInt(10) == 0 ? 0 : 1 + random.nextInt((int) Math.min(capacity, 20));
                ResolvedRequest r = ResolvedRequest.resolve(definition, Request.of("k", units));
                long seq = algorithms.tryGrant(fused, now, r);
                long expected = algorithms.waitTime(stepwise, now, r) == 0 ? algorithms.commit(stepwise, now, r) : 0;
                assertThat(seq).as("grant at %s ns (seed %d, op %d)", now, seed, op).isEqualTo(expected);
                if (seq > 0) {
                    granted.add(new long[] {seq, (long) units});
                    grants++;
                }
            } else if (choice < 95 && !granted.isEmpty()) {
                long[] g = granted.remove(random.nextInt(granted.size()));
                ResolvedRequest r = ResolvedRequest.resolve(definition, Request.of("k", g[1]));
                double[] used = {random.nextInt((int) g[1] * 2 + 1)};      // a refund or overuse
                algorithms.settle(fused, now, r, g[0], used);
                algorithms.settle(stepwise, now, r, g[0], used);
            } else {
                Feedback report = randomReport(random, capacity, window);
                algorithms.observe(fused, now, report);
                algorithms.observe(stepwise, now, report);
            }
            if (!Arrays.equals(fused, stepwise)) {
                assertThat(fused).as("state after op %d (seed %d)", op, seed).containsExactly(stepwise);
            }
        }
        assertThat(grants).as("seed %d", seed).isGreaterThan(100);
    }

    private static Feedback randomReport(SplittableRandom random, double capacity, Duration window) {
        double nan = Double.NaN;
        return switch (random.nextInt(4)) {
            case 0 -> new Feedback(new double[] {random.nextInt((int) capacity + 1)},
                    new double[] {1 + random.nextDouble() * window.toNanos()}, new double[] {nan},
                    new double[] {nan}, -1);
            case 1 -> new Feedback(new double[] {nan}, new double[] {nan},
                    new double[] {1 + random.nextDouble() * window.toNanos() / 4}, new double[] {nan}, -1);
            case 2 -> new Feedback(new double[] {nan}, new double[] {nan}, new double[] {nan},
                    new double[] {0.5 + random.nextDouble() * 2}, -1);
            default -> new Feedback(new double[] {nan}, new double[] {nan}, new double[] {nan},
                    new double[] {1}, -1);
        };
    }
}
