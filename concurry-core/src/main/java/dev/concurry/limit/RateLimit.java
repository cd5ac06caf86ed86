package dev.concurry.limit;

import java.time.Duration;

/**
 * At most {@code capacity} units of {@code key} per {@code window} (SPEC L1). Units may be fractional
 * (dollars, for example); the amount of each acquisition is given by the {@link Request}.
 *
 * <pre>{@code
 * RateLimit tokens = RateLimit.of("tokens", 10_000, Duration.ofMinutes(1));          // sliding window
 * RateLimit smooth = RateLimit.of("requests", 500, Duration.ofMinutes(1), RateAlgorithm.LEAKY_BUCKET);
 * }</pre>
 *
 * @param key       the name requests use; not blank
 * @param capacity  units per window; positive and finite
 * @param window    the window; positive
 * @param algorithm how the limit is enforced ({@link RateAlgorithm#SLIDING_WINDOW} by default)
 */
public record RateLimit(String key, double capacity, Duration window, RateAlgorithm algorithm) implements Limit {

    /** Validates every field; throws {@link IllegalArgumentException} naming the field and value. */
    public RateLimit {
        Specs.key(key);
        Specs.capacity(key, capacity);
        Specs.window(key, window);
        Specs.algorithm(key, algorithm);
    }

    /** A sliding-window rate limit, the strictest algorithm. */
    public static RateLimit of(String key, double capacity, Duration window) {
        return new RateLimit(key, capacity, window, RateAlgorithm.SLIDING_WINDOW);
    }

    /** A rate limit enforced by the given algorithm. */
    public static RateLimit of(String key, double capacity, Duration window, RateAlgorithm algorithm) {
        return new RateLimit(key, capacity, window, algorithm);
    }
}
