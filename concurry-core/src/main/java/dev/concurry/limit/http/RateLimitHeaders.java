package dev.concurry.limit.http;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.CallLimit;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Refusal;
import dev.concurry.limit.ResourceLimit;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Response headers for a server that protects its own API with a {@link LimitSet} (SPEC L25): the
 * IETF {@code RateLimit-Policy} and {@code RateLimit} fields and, on a refusal, {@code Retry-After}.
 * Usable from any HTTP stack: the result is a plain map of header names to values.
 *
 * <pre>{@code
 * switch (limits.attempt(Request.of("requests", 1))) {
 *     case Attempt.Granted granted -> {
 *         try (Acquisition acq = granted.acquisition()) {
 *             RateLimitHeaders.granted(limits, acq).forEach(response::setHeader);
 *             serve(request, response);
 *         }
 *     }
 *     case Attempt.Refused refused -> {
 *         RateLimitHeaders.refused(limits, refused.refusal()).forEach(response::setHeader);
 *         response.setStatus(429);
 *     }
 * }
 * }</pre>
 *
 * <p>Per rate limit the request takes (resource limits have no quota per window), named by its key:
 * <ul>
 *   <li>{@code RateLimit-Policy: "tokens";q=100;w=60}: the capacity {@code q} per window of {@code w}
 *       seconds;</li>
 *   <li>{@code RateLimit: "tokens";r=40;t=60}: {@code r} units are available now (rounded down), and
 *       {@code t} seconds from now the quota is surely whole again (one window: everything counted now
 *       has left it, overuse aside). A client that grants at most {@code r} more until {@code t}, as
 *       Concurry's {@link dev.concurry.limit.LimitSet#observe} does, is never refused for this key;</li>
 *   <li>{@code Retry-After: 2} on a refusal that says when the request could be granted: the seconds
 *       until then, rounded up. A refusal that only a release can end, or that queues behind other
 *       waiters, has none.</li>
 * </ul>
 * Numbers are integers, or decimals with at most three digits when fractional (a sub-second window,
 * a fractional capacity). {@code ProviderHeaders.ietf()} reads them back to the same values.
 *
 * <p>A server that limits each client separately with a {@link KeyedLimits} family passes the family
 * and the client's key: the fields are that key's (its tier's capacities, what it has left).
 */
public final class RateLimitHeaders {
    /** The names of the headers written. */
    public static final String POLICY = "RateLimit-Policy";
    public static final String RATE_LIMIT = "RateLimit";
    public static final String RETRY_AFTER = "Retry-After";

    private RateLimitHeaders() {
    }

    /** The fields for a granted request: each rate limit it took, with what is left now. */
    public static Map<String, String> granted(LimitSet set, Acquisition acquisition) {
        Objects.requireNonNull(set, "set");
        return granted(set.limits(), set::stats, acquisition);
    }

    /**
     * The fields for a request of key {@code key} that {@code family} granted.
     *
     * <pre>{@code
     * RateLimitHeaders.granted(perCustomer, apiKey, acq).forEach(response::setHeader);
     * }</pre>
     */
    public static <K> Map<String, String> granted(KeyedLimits<K> family, K key, Acquisition acquisition) {
        Objects.requireNonNull(family, "family");
        return granted(family.limits(key), () -> family.stats(key), acquisition);
    }

    static Map<String, String> granted(List<Limit> limits, Supplier<LimitStats> stats, Acquisition acquisition) {
        Objects.requireNonNull(acquisition, "acquisition");
        return fields(limits, stats, acquisition.granted().keySet(), Map.of());
    }

    /**
     * The fields for a refusal: each rate limit the request takes, the short ones with what they had,
     * and {@code Retry-After} when the refusal says when the request could be granted.
     */
    public static Map<String, String> refused(LimitSet set, Refusal refusal) {
        Objects.requireNonNull(set, "set");
        return refused(set.limits(), set::stats, refusal);
    }

    /**
     * The fields for a refusal of key {@code key} by {@code family}: a per-client 429.
     *
     * <pre>{@code
     * RateLimitHeaders.refused(perCustomer, apiKey, refused.refusal()).forEach(response::setHeader);
     * }</pre>
     */
    public static <K> Map<String, String> refused(KeyedLimits<K> family, K key, Refusal refusal) {
        Objects.requireNonNull(family, "family");
        return refused(family.limits(key), () -> family.stats(key), refusal);
    }

    static Map<String, String> refused(List<Limit> limits, Supplier<LimitStats> stats, Refusal refusal) {
        Objects.requireNonNull(refusal, "refusal");
        Map<String, Double> shortOf = new LinkedHashMap<>();
        refusal.shortages().forEach(s -> shortOf.put(s.key(), s.available()));
        Map<String, String> headers = new LinkedHashMap<>();
        refusal.grantableIn().ifPresent(d -> headers.put(RETRY_AFTER, Long.toString(ceilSeconds(d))));
        Set<String> keys = new java.util.LinkedHashSet<>(shortOf.keySet());
        for (int i = 0; i < refusal.request().size(); i++) {
            keys.add(refusal.request().key(i));
        }
        for (Limit limit : limits) {
            if (limit instanceof CallLimit) {
                keys.add(limit.key());      // every request takes a call unit (SPEC L9)
            }
        }
        headers.putAll(fields(limits, stats, keys, shortOf));
        return headers;
    }

    /**
     * Policy and RateLimit fields for {@code keys} of {@code limits}; {@code known} available units win
     * over {@code stats}, which is read only if needed.
     */
    private static Map<String, String> fields(List<Limit> limits, Supplier<LimitStats> statsOf,
            Collection<String> keys, Map<String, Double> known) {
        StringBuilder policy = new StringBuilder();
        StringBuilder rateLimit = new StringBuilder();
        LimitStats stats = null;
        for (Limit limit : limits) {
            Duration window = window(limit);
            if (window == null || !keys.contains(limit.key())) {
                continue;
            }
            double available;
            if (known.containsKey(limit.key())) {
                available = known.get(limit.key());
            } else {
                if (stats == null) {
                    stats = statsOf.get();
                }
                available = stats.key(limit.key()).available();
            }
            String name = StructuredFields.string(limit.key());
            String w = decimal(window.toNanos() / 1e9, RoundingMode.CEILING);
            policy.append(policy.isEmpty() ? "" : ", ").append(name).append(";q=")
                    .append(decimal(limit.capacity(), RoundingMode.FLOOR)).append(";w=").append(w);
            rateLimit.append(rateLimit.isEmpty() ? "" : ", ").append(name).append(";r=")
                    .append(decimal(Math.max(0, available), RoundingMode.FLOOR)).append(";t=").append(w);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        if (!policy.isEmpty()) {
            headers.put(POLICY, policy.toString());
            headers.put(RATE_LIMIT, rateLimit.toString());
        }
        return headers;
    }

    private static Duration window(Limit limit) {
        return switch (limit) {
            case RateLimit rate -> rate.window();
            case CallLimit call -> call.window();
            case ResourceLimit resource -> null;
        };
    }

    /** Whole seconds, at least 1 for any wait (a client must not retry at once). */
    private static long ceilSeconds(Duration d) {
        long seconds = d.getSeconds() + (d.getNano() > 0 ? 1 : 0);
        return Math.max(1, seconds);
    }

    /** An integer, or a decimal with at most three fractional digits, rounded as told (sf-decimal). */
    private static String decimal(double value, RoundingMode rounding) {
        if (value >= 1e12) {
            return Long.toString((long) Math.min(value, 999_999_999_999_999.0));
        }
        BigDecimal d = BigDecimal.valueOf(value).setScale(3, rounding).stripTrailingZeros();
        return d.scale() <= 0 ? d.toBigInteger().toString() : d.toPlainString();
    }
}
