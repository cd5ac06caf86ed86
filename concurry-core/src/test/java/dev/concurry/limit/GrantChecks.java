package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Independent checks of a log of grants taken on real threads, for the stress tests: each grant is
 * known only to have been made between {@code before} (just before the call) and {@code after} (just
 * after it returned), so a grant "certainly inside" [a, b] has {@code before >= a} and {@code after <= b}.
 */
final class GrantChecks {
    /** One grant of {@code units} (as finally used), made between the two clock readings. */
    record Timed(long before, long after, double units) {
    }

    private GrantChecks() {
    }

    /** Token bucket and GCRA (SPEC L5): over any [a, b], at most capacity + rate × (b − a). */
    static void assertBucket(List<Timed> grants, double capacity, Duration window, String what) {
        check(grants, capacity, capacity / window.toNanos(), Long.MAX_VALUE, what);
    }

    /** Sliding window (SPEC L6): over any [a, b] shorter than the window, at most capacity. */
    static void assertWindow(List<Timed> grants, double capacity, Duration window, String what) {
        check(grants, capacity, 0, window.toNanos(), what);
    }

    private static void check(List<Timed> grants, double capacity, double ratePerNano, long span, String what) {
        List<Timed> byStart = new ArrayList<>(grants);
        byStart.sort(Comparator.comparingLong(Timed::before));
        for (int i = 0; i < byStart.size(); i++) {
            long a = byStart.get(i).before();
            List<Timed> inside = new ArrayList<>(byStart.subList(i, byStart.size()));
            inside.sort(Comparator.comparingLong(Timed::after));
            double used = 0;
            for (Timed g : inside) {
                if (g.after() - a >= span) {
                    break;
                }
                used += g.units();
                assertThat(used).as("%s: units certainly granted in [%d, %d] ns", what, a, g.after())
                        .isLessThanOrEqualTo(capacity + ratePerNano * (g.after() - a) + 1e-6);
            }
        }
    }
}
