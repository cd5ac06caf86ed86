package dev.concurry.limit;

import java.util.Map;

/**
 * Units granted by a {@link Limiter}, given back (resources) or settled (rates) on {@link #close()}
 * (SPEC L13). Use it in try-with-resources:
 *
 * <pre>{@code
 * try (Acquisition acq = limits.acquire(Request.of("requests", 1).and("tokens", 100))) {
 *     Completion c = client.complete(prompt);
 *     acq.update("tokens", c.totalTokens());   // reserve 100, settle to what was really used
 *     return c;
 * }
 * }</pre>
 *
 * <p>Not meant to be shared between threads while open (its methods are nevertheless safe to call
 * from any thread).
 */
public interface Acquisition extends AutoCloseable {

    /**
     * Records the actual usage of rate limit {@code key}; may be called several times, the last value
     * wins. On close, unused units are refunded and overuse is charged (later requests wait longer).
     *
     * @throws IllegalArgumentException if the key was not acquired here, is a resource limit, or
     *                                  {@code used} is negative, NaN, infinite, or more than a million
     *                                  times the key's capacity (a charge no limit could ever pay back)
     * @throws IllegalStateException    after {@link #close()}
     */
    Acquisition update(String key, double used);

    /** {@link #update(String, double)} for every entry of {@code usage}. Checks all before applying. */
    Acquisition update(Map<String, ? extends Number> usage);

    /** The configuration of the set that granted this acquisition (immutable; for example its region). */
    Map<String, String> config();

    /** The units granted, by key (including implicit call units). */
    Map<String, Double> granted();

    /**
     * Settles every rate limit to its recorded usage and releases every resource permit. Idempotent,
     * runs on every exit path of a try-with-resources block, and never throws.
     */
    @Override
    void close();
}
