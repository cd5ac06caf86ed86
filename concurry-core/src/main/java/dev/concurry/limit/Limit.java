package dev.concurry.limit;

/**
 * An immutable limit specification (SPEC layer 1): what to limit, not how to enforce it. A
 * {@link LimitSet} enforces one or more of them atomically. Serializable, so that process workers can
 * re-create a set in their child JVM.
 *
 * <pre>{@code
 * Limit requests = RateLimit.of("requests", 500, Duration.ofMinutes(1));
 * Limit calls    = CallLimit.of(100, Duration.ofSeconds(1));
 * Limit conns    = ResourceLimit.of("db_conn", 5);
 * }</pre>
 */
public sealed interface Limit extends java.io.Serializable permits RateLimit, CallLimit, ResourceLimit {

    /** The key requests use to name this limit; unique within a set. */
    String key();

    /** The most units this limit allows (per window for rate limits, at once for resources). */
    double capacity();
}
