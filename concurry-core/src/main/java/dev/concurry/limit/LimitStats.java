package dev.concurry.limit;

import java.util.Map;

/**
 * A consistent snapshot of a limiter (SPEC L15).
 *
 * <pre>{@code
 * LimitStats stats = limits.stats();
 * double left = stats.key("tokens").available();
 * }</pre>
 *
 * <p>Every total is cumulative since this set object was created, and counts what happened through it
 * in this JVM (so that metrics from several JVMs sharing one quota add up), the same on every backend; a
 * metrics system can turn them into rates
 * (the {@code concurry-micrometer} module does).
 *
 * @param keys        per key, in the order the limits were added
 * @param granted     acquisitions granted so far
 * @param refunded    units refunded by settlements (used below requested), summed over keys
 * @param charged     units charged by settlements (used above requested), summed over keys
 * @param timedOut    acquisitions that timed out
 * @param waiting     acquirers waiting now
 * @param rejected    {@code tryAcquire} calls that found no room (returned empty)
 * @param waits       acquisitions that had to wait before they were granted (granted at once: not counted)
 * @param waitedNanos total time those {@code waits} acquisitions waited, in nanoseconds of the set's clock
 * @param provider    what this set object was told by providers (SPEC F1–F4)
 */
public record LimitStats(Map<String, KeyStats> keys, long granted, double refunded, double charged,
        long timedOut, int waiting, long rejected, long waits, long waitedNanos,
        ProviderCounts provider) {

    public LimitStats {
        keys = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(keys));
        java.util.Objects.requireNonNull(provider, "provider");
    }

    /**
     * Provider reports observed by this set object ({@code observe}), cumulative.
     *
     * @param reports  reports observed
     * @param refusals reports of a refused call (429, 503)
     * @param pauses   reports that paused keys (a refusal with a retry time)
     * @param unparsed header values that could not be read and were ignored
     */
    public record ProviderCounts(long reports, long refusals, long pauses, long unparsed) {
        /** Nothing observed. */
        public static final ProviderCounts NONE = new ProviderCounts(0, 0, 0, 0);
    }

    /**
     * The snapshot of one key.
     *
     * @throws IllegalArgumentException if there is no such key (the message lists the known keys)
     */
    public KeyStats key(String key) {
        KeyStats stats = keys.get(key);
        if (stats == null) {
            throw new IllegalArgumentException("unknown key '" + key + "'; known keys: " + keys.keySet());
        }
        return stats;
    }

    /**
     * One key of a snapshot.
     *
     * @param key       the key
     * @param limit     the specification
     * @param capacity  its capacity
     * @param available units that could be granted now (may be negative after overuse)
     * @param inUse     rate limits: units counted against the limit now; resources: permits held
     * @param waiting   acquirers waiting for this key now
     * @param refunded  units of this key refunded by settlements so far (used below requested)
     * @param charged   units of this key charged by settlements so far (used above requested)
     * @param provider  what the provider last said about this key ({@link ProviderFeedback#NONE} if nothing)
     */
    public record KeyStats(String key, Limit limit, double capacity, double available, double inUse, int waiting,
            double refunded, double charged, ProviderFeedback provider) {
        public KeyStats {
            java.util.Objects.requireNonNull(provider, "provider");
        }
    }
}
