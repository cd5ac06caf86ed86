package dev.concurry.limit;

import java.time.Duration;

/** Validation shared by the limit specifications (SPEC L4); messages name the field and value. */
final class Specs {
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
        return window;
    }

    static RateAlgorithm algorithm(String key, RateAlgorithm algorithm) {
        if (algorithm == null) {
            throw new IllegalArgumentException("algorithm of '" + key + "' must not be null");
        }
        return algorithm;
    }
}
