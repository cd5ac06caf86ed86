package dev.concurry.limit;

import java.time.Duration;

/** Validation shared by the limit specifications (SPEC L4); messages name the field and value. */
final class Specs {
    static final Duration MAX_WINDOW = Duration.ofNanos(Long.MAX_VALUE);

    private Specs() {
    }

    static String key(String key) {
        if (key == null || key.isBlank()) {
            throw new IllegalArgumentException("key must not be blank, got: "
                    + (key == null ? "null" : "'" + key + "'"));
        }
        return key;
    }

    static double capacity(String key, double capacity) {
        if (Double.isNaN(capacity) || Double.isInfinite(capacity) || capacity <= 0) {
            throw new IllegalArgumentException("capacity of '" + key
                    + "' must be a positive finite number, got: " + capacity);
        }
        return capacity;
    }

    static Duration window(String key, Duration window) {
        if (window == null) {
            throw new IllegalArgumentException("window of '" + key + "' must not be null");
        }
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("window of '" + key + "' must be positive, got: " + window);
        }
        if (window.compareTo(MAX_WINDOW) > 0) {
            // Time is counted in nanoseconds in a long: a longer window could never be computed with.
            throw new IllegalArgumentException("window of '" + key + "' must be at most " + MAX_WINDOW
                    + " (about 292 years, the most nanoseconds a long holds), got: " + window);
        }
        return window;
    }

    static RateAlgorithm algorithm(String key, RateAlgorithm algorithm) {
        if (algorithm == null) {
            throw new IllegalArgumentException("algorithm of '" + key + "' must not be null");
        }
        return algorithm;
    }
}
