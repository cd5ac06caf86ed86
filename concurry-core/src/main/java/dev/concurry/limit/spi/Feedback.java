package dev.concurry.limit.spi;

import java.util.Arrays;

/**
 * What a provider reported, resolved against one set's limits for its store (SPEC F2–F4): per limit,
 * in the set's order, NaN where nothing was reported. Times are nanoseconds from the moment the store
 * applies it (durations, so that a store with its own clock, such as a Redis server's, needs no
 * translation). The engine builds it from a {@code ProviderReport}; a store hands it to
 * {@link SetAlgorithms#observe} (or its port of it).
 *
 * <p>Immutable.
 */
public final class Feedback {
    private final double[] remaining;
    private final double[] resetNanos;
    private final double[] pauseNanos;
    private final double[] scale;
    private final long source;

    /**
     * @param remaining  units the provider still grants until the reset (≥ 0), NaN if not reported
     * @param resetNanos when that budget ends, from now (&gt; 0), NaN if not reported
     * @param pauseNanos no grant of the limit before this, from now (Retry-After), NaN if none
     * @param scale      units the limit counts per unit granted from now on (an adopted provider
     *                   limit: capacity / reported limit; 1 to stop adopting), NaN to leave it
     * @param source     the sequence number of the grant whose response this is, or -1 when it answers
     *                   no grant (observed on the set: it counts as the newest report)
     * @throws IllegalArgumentException if the arrays differ in length
     */
    public Feedback(double[] remaining, double[] resetNanos, double[] pauseNanos, double[] scale, long source) {
        int n = remaining.length;
        if (resetNanos.length != n || pauseNanos.length != n || scale.length != n) {
            throw new IllegalArgumentException("feedback needs one value per limit in every array, got "
                    + n + ", " + resetNanos.length + ", " + pauseNanos.length + ", " + scale.length);
        }
        this.remaining = remaining.clone();
        this.resetNanos = resetNanos.clone();
        this.pauseNanos = pauseNanos.clone();
        this.scale = scale.clone();
        this.source = source;
    }

    /** The grant sequence number the report answers, or -1 (the newest report: it answers no grant). */
    public long source() {
        return source;
    }

    /** How many limits (the set's). */
    public int size() {
        return remaining.length;
    }

    /** Units limit {@code i} may still grant until {@link #resetNanos}, or NaN. */
    public double remaining(int i) {
        return remaining[i];
    }

    /** Nanoseconds from now until the budget of limit {@code i} ends, or NaN. */
    public double resetNanos(int i) {
        return resetNanos[i];
    }

    /** Nanoseconds from now during which limit {@code i} grants nothing, or NaN. */
    public double pauseNanos(int i) {
        return pauseNanos[i];
    }

    /** Units counted per unit granted of limit {@code i} from now on, or NaN to leave it as it is. */
    public double scale(int i) {
        return scale[i];
    }

    /** Whether any limit gets a budget (the report then takes a grant sequence number as its mark). */
    public boolean setsBudget() {
        for (int i = 0; i < remaining.length; i++) {
            if (remaining[i] >= 0 && resetNanos[i] > 0) {
                return true;
            }
        }
        return false;
    }

    /** Bit i set when limit i is given anything. */
    public long touches() {
        long touched = 0;
        for (int i = 0; i < remaining.length; i++) {
            if (!Double.isNaN(remaining[i]) || !Double.isNaN(pauseNanos[i]) || !Double.isNaN(scale[i])) {
                touched |= 1L << i;
            }
        }
        return touched;
    }

    @Override
    public String toString() {
        return "Feedback[remaining=" + Arrays.toString(remaining) + ", resetNanos=" + Arrays.toString(resetNanos)
                + ", pauseNanos=" + Arrays.toString(pauseNanos) + ", scale=" + Arrays.toString(scale) + ", source="
                + source + "]";
    }
}
