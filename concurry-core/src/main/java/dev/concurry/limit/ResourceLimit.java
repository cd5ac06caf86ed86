package dev.concurry.limit;

/**
 * At most {@code capacity} units of {@code key} held at once (SPEC L3): a semaphore with no time
 * component. Units are taken on acquire and given back when the {@link Acquisition} closes.
 *
 * <pre>{@code
 * LimitSet db = LimitSet.builder().add(ResourceLimit.of("db_conn", 5)).build();
 * try (Acquisition conn = db.acquire(Request.of("db_conn", 1))) {
 *     runQuery();
 * }                                                   // released on every exit path
 * }</pre>
 *
 * @param key      the name requests use; not blank
 * @param permits  how many units may be held at once; at least 1
 */
public record ResourceLimit(String key, int permits) implements Limit {

    /** Validates every field; throws {@link IllegalArgumentException} naming the field and value. */
    public ResourceLimit {
        Specs.key(key);
        if (permits < 1) {
            throw new IllegalArgumentException("capacity of '" + key + "' must be at least 1, got: " + permits);
        }
    }

    /** A resource limit of {@code permits} units. */
    public static ResourceLimit of(String key, int permits) {
        return new ResourceLimit(key, permits);
    }

    /**
     * A resource limit from a numeric capacity, which must be a whole number ≥ 1 (SPEC L4): a
     * fractional capacity such as 2.5 is refused.
     */
    public static ResourceLimit of(String key, double capacity) {
        if (Double.isNaN(capacity) || Double.isInfinite(capacity) || capacity != Math.rint(capacity)
                || capacity > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("capacity of ResourceLimit '" + key
                    + "' must be a whole number of permits, got: " + capacity);
        }
        return new ResourceLimit(key, (int) capacity);
    }

    @Override
    public double capacity() {
        return permits;
    }
}
