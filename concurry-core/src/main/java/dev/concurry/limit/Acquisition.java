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

    /**
     * Tells the set that granted this acquisition what the provider answered to the call made under
     * it ({@link LimitSet#observe}: its budget, pause and limit apply to every worker and process). If the
     * provider refused the call (429, 503), its reservation is not counted as used: the rate limits
     * the report concerns (all of them when it names none) are settled to zero on close, unless
     * {@link #update} says otherwise afterwards. Never throws for what the report says.
     *
     * <pre>{@code
     * try (Acquisition acq = limits.acquire(Request.of("requests", 1).and("tokens", 2_000))) {
     *     HttpResponse<String> r = http.send(request, BodyHandlers.ofString());
     *     acq.observe(ProviderHeaders.openAi(r.statusCode(), r.headers().map()));
     *     if (r.statusCode() == 429) throw new RetryableException();   // the whole set pauses as told
     *     acq.update("tokens", usage(r).totalTokens());
     * }
     * }</pre>
     */
    Acquisition observe(ProviderReport report);

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
