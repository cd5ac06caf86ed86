package dev.concurry.limit.spi;

import java.util.Arrays;

/**
 * What every limit of a set has available and in use at one instant, in the set's order (the
 * engine adds its own counters and waiters to make {@code LimitStats}).
 */
public final class StoreSnapshot {
    private final double[] available;
    private final double[] inUse;

    /** Per limit, in the set's order: units available now (negative in debt) and units in use. */
    public StoreSnapshot(double[] available, double[] inUse) {
        if (available.length != inUse.length) {
            throw new IllegalArgumentException("available and inUse must have one value per limit, got "
                    + available.length + " and " + inUse.length);
        }
        this.available = available.clone();
        this.inUse = inUse.clone();
    }

    /** Units of limit {@code i} that could be granted now. */
    public double available(int i) {
        return available[i];
    }

    /** Units of limit {@code i} counted against it now (permits held, for a resource). */
    public double inUse(int i) {
        return inUse[i];
    }

    @Override
    public String toString() {
        return "StoreSnapshot[available=" + Arrays.toString(available) + ", inUse=" + Arrays.toString(inUse) + "]";
    }
}
