package dev.concurry.limit;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    /** The limits of one set: keys unique, at most 64 (SPEC L4). */
    static List<Limit> setLimits(List<Limit> limits) {
        Set<String> keys = new HashSet<>();
        for (Limit limit : limits) {
            if (!keys.add(limit.key())) {
                throw new IllegalArgumentException("duplicate limit key '" + limit.key()
                        + "' in one set; keys must be unique: " + limits);
            }
        }
        if (limits.size() > 64) {
            throw new IllegalArgumentException("a set holds at most 64 limits, got " + limits.size());
        }
        return limits;
    }

    /** Config entries: neither keys nor values may be null. */
    static Map<String, String> config(Map<String, String> entries) {
        entries.forEach((key, value) -> {
            if (key == null || value == null) {
                throw new IllegalArgumentException("config entries must not be null: " + key + "=" + value);
            }
        });
        return entries;
    }

    static RateAlgorithm algorithm(String key, RateAlgorithm algorithm) {
        if (algorithm == null) {
            throw new IllegalArgumentException("algorithm of '" + key + "' must not be null");
        }
        return algorithm;
    }
}
