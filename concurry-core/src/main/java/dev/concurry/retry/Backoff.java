package dev.concurry.retry;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * How the wait between attempts grows (SPEC R1). With base wait b, the wait after the k-th failed
 * attempt (k = 1, 2, 3...) before jitter and the max-wait cap is:
 * <ul>
 *   <li>{@link #FIXED}: b, b, b, ...</li>
 *   <li>{@link #LINEAR}: b, 2b, 3b, ...</li>
 *   <li>{@link #EXPONENTIAL}: b, 2b, 4b, 8b, ...</li>
 *   <li>{@link #FIBONACCI}: b, b, 2b, 3b, 5b, ...</li>
 * </ul>
 */
public enum Backoff {
    FIXED, LINEAR, EXPONENTIAL, FIBONACCI;

    /** The factor applied to the base wait after the {@code failure}-th failed attempt (1-based). */
    double factor(int failure) {
        if (failure < 1) {
            throw new IllegalArgumentException("failure must be >= 1, got: " + failure);
        }
        return switch (this) {
            case FIXED -> 1;
            case LINEAR -> failure;
            case EXPONENTIAL -> Math.pow(2, failure - 1);
            case FIBONACCI -> {
                double previous = 0;
                double current = 1;
                for (int i = 1; i < failure; i++) {
                    double next = previous + current;
                    previous = current;
                    current = next;
                }
                yield current;
            }
        };
    }

    /**
     * The wait after the {@code failure}-th failed attempt, before jitter, capped at {@code max} and at
     * {@code Long.MAX_VALUE} nanoseconds (about 292 years: forever, for a wait).
     */
    Duration wait(Duration base, int failure, Duration max) {
        double nanos = TimeUnit.NANOSECONDS.convert(base) * factor(failure);
        long cap = TimeUnit.NANOSECONDS.convert(max);
        return nanos >= cap ? Duration.ofNanos(cap) : Duration.ofNanos((long) nanos);
    }
}
