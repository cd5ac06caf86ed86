package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.time.ManualClock;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * SPEC L6 and N5 (issue 17 A1): a saturating client of a sliding window is granted at least 98% of
 * capacity over a long run however many grants one window holds, and an independent record of every
 * grant shows that no interval of one window ever held more than capacity.
 *
 * <p>The client asks twice as fast as the limit allows, for twenty windows of manual-clock time: one
 * {@code tryAcquire} at random instants, 1 ns to one grant's share of the window apart (window ×
 * amount ÷ capacity). So grants spread over the window at distinct instants, as real traffic does.
 * Utilisation is measured in the steady state, over the last ten windows: units granted there ÷ (10 ×
 * capacity), the most a strict limit admits in ten windows. (Over the whole run, the first window's
 * head start would hide a delay in re-granting expired units.)
 */
class SlidingWindowUtilisationTest {
    private static final long MS = 1_000_000;
    private static final int WINDOWS = 20;
    private static final int MEASURED = 10;

    @ParameterizedTest(name = "{0} per {1} ms, {2} per grant")
    @CsvSource({
            "500,     60000, 1",          // few grants per window: exact, the control
            "5000,    60000, 1",          // 5,000 one-unit requests per minute
            "10000,   60000, 1",
            "100000,  60000, 10",         // 100,000 tokens per minute, 10 per call
            "5,       60000, 0.002",      // a $5 per minute budget spent $0.002 at a time
            "2.5,     1000,  0.0001",     // 25,000 grants per one-second window
    })
    @DisplayName("A1 L6/N5 a saturating client gets >= 98% of a sliding window, never more than capacity")
    void L6_saturating_client_gets_at_least_98_percent_and_never_more_than_capacity(double capacity, long windowMs,
            double amount) {
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        long window = windowMs * MS;
        ManualClock clock = new ManualClock();
        List<Long> times = new ArrayList<>();       // the instant of every grant
        try (LimitSet set = LimitSet.builder().add(RateLimit.of("units", capacity, Duration.ofNanos(window)))
                .backend(Backends.inMemory(clock)).build()) {
            Request request = Request.of("units", amount);
            long share = Math.round(window * amount / capacity);     // one grant's share of the window
            long end = WINDOWS * window;
            while (clock.nanoTime() < end) {
                Optional<Acquisition> granted = set.tryAcquire(request);
                if (granted.isPresent()) {
                    granted.get().close();
                    times.add(clock.nanoTime());
                }
                clock.advanceNanos(Math.min(end - clock.nanoTime(), 1 + random.nextLong(share)));
            }
        }
        long steady = times.stream().filter(t -> t >= (WINDOWS - MEASURED) * window).count();
        double utilisation = steady * amount / (MEASURED * capacity);
        String what = String.format("seed %d: %s per %d ms, %s per grant: %d grants, utilisation %.2f%% in the"
                + " last %d windows", seed, capacity, windowMs, amount, times.size(), 100 * utilisation, MEASURED);
        assertThat(mostInAnyWindow(times, window, amount)).as(what + ", most units in one window")
                .isLessThanOrEqualTo(BigDecimal.valueOf(capacity * (1 + 1e-9)));
        assertThat(utilisation).as(what).isGreaterThanOrEqualTo(0.98);
    }

    /**
     * Most units granted in any interval of one window, summed exactly: the busiest interval can be
     * taken to end at a grant, so each grant is checked with the grants less than a window before it.
     */
    private static BigDecimal mostInAnyWindow(List<Long> times, long window, double amount) {
        BigDecimal unit = new BigDecimal(amount);
        int first = 0;
        BigDecimal most = BigDecimal.ZERO;
        for (int last = 0; last < times.size(); last++) {
            while (times.get(first) + window <= times.get(last)) {
                first++;
            }
            BigDecimal sum = unit.multiply(BigDecimal.valueOf(last - first + 1L));
            most = most.max(sum);
        }
        return most;
    }
}
