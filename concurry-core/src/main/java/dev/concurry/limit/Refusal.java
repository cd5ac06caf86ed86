package dev.concurry.limit;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Why a request was not granted (SPEC L25): which keys were short, how much each had available, and
 * the earliest moment the whole request could be granted if nothing else changes. Returned by
 * {@link Limiter#attempt(Request)} and carried by {@link AcquireTimeoutException}.
 *
 * <pre>{@code
 * switch (limits.attempt(Request.of("requests", 1).and("tokens", 800))) {
 *     case Attempt.Granted granted -> { try (Acquisition acq = granted.acquisition()) { serve(); } }
 *     case Attempt.Refused refused -> answer429(refused.refusal().grantableIn());   // e.g. Retry-After
 * }
 * }</pre>
 *
 * @param set           the set that answered (for a pool, the member whose answer was best)
 * @param config        that set's config (for example its region)
 * @param request       the request refused
 * @param shortages     the keys that were short, in the set's order
 * @param grantableIn   how long until the whole request could be granted if nothing else changes;
 *                      empty when only a release can free it (a resource limit) or when it queues
 *                      behind other waiters (their grants come first)
 * @param queuedBehind  whether other waiters hold the keys it needs first (SPEC L12)
 */
public record Refusal(String set, Map<String, String> config, Request request, List<Shortage> shortages,
        Optional<Duration> grantableIn, boolean queuedBehind) {

    public Refusal {
        Objects.requireNonNull(set, "set");
        config = Map.copyOf(config);
        Objects.requireNonNull(request, "request");
        shortages = List.copyOf(shortages);
        Objects.requireNonNull(grantableIn, "grantableIn");
    }

    /**
     * One key that was short.
     *
     * @param key       the key
     * @param requested units the request asked of it
     * @param available units it had available (negative in debt)
     * @param capacity  its capacity
     */
    public record Shortage(String key, double requested, double available, double capacity) {
        @Override
        public String toString() {
            return key + ": " + units(Math.max(0, available)) + " of " + units(requested) + " available";
        }
    }

    /** The shortage of {@code key}, if that key was short. */
    public Optional<Shortage> shortage(String key) {
        return shortages.stream().filter(s -> s.key().equals(key)).findFirst();
    }

    /** {@code "tokens: 40 of 100 available, grantable in 1.2 s"}, for messages. */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder();
        for (Shortage s : shortages) {
            text.append(text.isEmpty() ? "" : ", ").append(s);
        }
        if (text.isEmpty()) {
            text.append("no room");
        }
        if (queuedBehind) {
            text.append(", queued behind earlier waiters");
        }
        text.append(grantableIn.map(d -> ", grantable in " + seconds(d)).orElse(queuedBehind
                ? ""
                : ", grantable only once units are released"));
        return text.toString();
    }

    private static String units(double units) {
        return units == Math.rint(units) && Math.abs(units) < 1e15
                ? Long.toString((long) units)
                : String.format(java.util.Locale.ROOT, "%.4g", units);
    }

    private static String seconds(Duration d) {
        double s = d.toNanos() / 1e9;
        return s >= 1
                ? String.format(java.util.Locale.ROOT, "%.1f s", s)
                : String.format(java.util.Locale.ROOT, "%.1f ms", s * 1e3);
    }
}
