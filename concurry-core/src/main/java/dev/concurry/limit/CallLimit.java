package dev.concurry.limit;

import java.time.Duration;

/**
 * A rate limit on calls (SPEC L2): its key is always {@value #KEY}, and every acquisition from a set
 * holding it counts as one call unless the request names {@value #KEY} itself (any amount ≥ 0).
 *
 * <pre>{@code
 * LimitSet limits = LimitSet.builder().add(CallLimit.of(100, Duration.ofSeconds(1))).build();
 * try (Acquisition call = limits.acquire()) {      // one call
 *     ...
 * }
 * }</pre>
 *
 * @param capacity  calls per window; positive and finite
 * @param window    the window; positive
 * @param algorithm how the limit is enforced ({@link RateAlgorithm#SLIDING_WINDOW} by default)
 */
public record CallLimit(double capacity, Duration window, RateAlgorithm algorithm) implements Limit {

    /** The key of every call limit. */
    public static final String KEY = "call_count";

    /** Validates every field; throws {@link IllegalArgumentException} naming the field and value. */
    public CallLimit {
        Specs.capacity(KEY, capacity);
        Specs.window(KEY, window);
        Specs.algorithm(KEY, algorithm);
    }

    /** A sliding-window call limit. */
    public static CallLimit of(double capacity, Duration window) {
        return new CallLimit(capacity, window, RateAlgorithm.SLIDING_WINDOW);
    }

    /** A call limit enforced by the given algorithm. */
    public static CallLimit of(double capacity, Duration window, RateAlgorithm algorithm) {
        return new CallLimit(capacity, window, algorithm);
    }

    @Override
    public String key() {
        return KEY;
    }
}
