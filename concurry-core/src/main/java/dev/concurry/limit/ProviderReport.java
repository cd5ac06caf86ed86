package dev.concurry.limit;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * What a provider said about its limits in one response, in the set's terms (SPEC F1): per key of the
 * set, the provider's limit, what remains and when it resets; whether the call was refused (429 or
 * 503) and for how long to pause. Hand it to {@link LimitSet#observe} or {@link Acquisition#observe}.
 * Usually read from response headers by {@code dev.concurry.limit.http.ProviderHeaders}; built by hand
 * for a provider that says it another way:
 *
 * <pre>{@code
 * acq.observe(ProviderHeaders.openAi(response.statusCode(), response.headers().map()));
 *
 * acq.observe(ProviderReport.builder()                        // a provider with its own format
 *         .remaining("tokens", body.remainingTokens(), Duration.ofSeconds(body.resetSeconds()))
 *         .build());
 * }</pre>
 *
 * <p>Durations count from the moment the report is observed (read it as the response arrives).
 *
 * @param quotas     per key of the set: what the provider said about it
 * @param retryAfter how long every acquisition of {@code pauseKeys} must wait (only when {@code refused})
 * @param refused    the provider refused the call (429 or 503): its reservation is not counted as used
 * @param pauseKeys  the keys a pause applies to; empty: every rate limit of the set
 * @param unparsed   header values that could not be read and were ignored (counted in stats)
 */
public record ProviderReport(Map<String, Quota> quotas, Optional<Duration> retryAfter, boolean refused,
        Set<String> pauseKeys, int unparsed) {

    public ProviderReport {
        quotas = Collections.unmodifiableMap(new LinkedHashMap<>(quotas));
        Objects.requireNonNull(retryAfter, "retryAfter");
        retryAfter.ifPresent(d -> {
            if (d.isNegative()) {
                throw new IllegalArgumentException("retryAfter must not be negative, got: " + d);
            }
        });
        pauseKeys = Collections.unmodifiableSet(new LinkedHashSet<>(pauseKeys));
        if (unparsed < 0) {
            throw new IllegalArgumentException("unparsed must be >= 0, got: " + unparsed);
        }
    }

    /**
     * What the provider said about one key; each part only when it said it.
     *
     * @param limit     its limit (per {@code window}, when given)
     * @param remaining units it still grants until {@code resetIn}
     * @param resetIn   when {@code remaining} is back to the limit (from the response's arrival)
     * @param window    the length of the provider's window, when given (IETF {@code w})
     */
    public record Quota(OptionalDouble limit, OptionalDouble remaining, Optional<Duration> resetIn,
            Optional<Duration> window) {
        public Quota {
            Objects.requireNonNull(limit, "limit");
            Objects.requireNonNull(remaining, "remaining");
            Objects.requireNonNull(resetIn, "resetIn");
            Objects.requireNonNull(window, "window");
            check("limit", limit);
            check("remaining", remaining);
            resetIn.ifPresent(d -> positiveOrZero("resetIn", d));
            window.ifPresent(d -> positiveOrZero("window", d));
        }

        /** Nothing said. */
        public static final Quota NONE = new Quota(OptionalDouble.empty(), OptionalDouble.empty(), Optional.empty(),
                Optional.empty());

        private static void check(String what, OptionalDouble value) {
            if (value.isPresent() && (!(value.getAsDouble() >= 0) || Double.isInfinite(value.getAsDouble()))) {
                throw new IllegalArgumentException(what + " must be a finite number >= 0, got: " + value.getAsDouble());
            }
        }

        private static void positiveOrZero(String what, Duration d) {
            if (d.isNegative()) {
                throw new IllegalArgumentException(what + " must not be negative, got: " + d);
            }
        }
    }

    /** A report that says nothing. */
    public static ProviderReport empty() {
        return new ProviderReport(Map.of(), Optional.empty(), false, Set.of(), 0);
    }

    /** A builder, for providers whose limits are not in standard headers. */
    public static Builder builder() {
        return new Builder();
    }

    /** The quota reported for {@code key}, if any. */
    public Optional<Quota> quota(String key) {
        return Optional.ofNullable(quotas.get(key));
    }

    /** Whether this report applies a pause to {@code key} (a rate limit of the set). */
    public boolean pauses(String key) {
        return refused && retryAfter.isPresent() && (pauseKeys.isEmpty() || pauseKeys.contains(key));
    }

    /** Collects a report; keys are the set's. */
    public static final class Builder {
        private final Map<String, Quota> quotas = new LinkedHashMap<>();
        private final Set<String> pauseKeys = new LinkedHashSet<>();
        private Optional<Duration> retryAfter = Optional.empty();
        private boolean refused;
        private int unparsed;

        private Builder() {
        }

        /** The provider's limit for {@code key}. */
        public Builder limit(String key, double limit) {
            return update(key, q -> new Quota(OptionalDouble.of(limit), q.remaining(), q.resetIn(), q.window()));
        }

        /** The provider's limit for {@code key} per {@code window}. */
        public Builder limit(String key, double limit, Duration window) {
            return update(key, q -> new Quota(OptionalDouble.of(limit), q.remaining(), q.resetIn(),
                    Optional.of(window)));
        }

        /** {@code remaining} units of {@code key} until {@code resetIn} from now. */
        public Builder remaining(String key, double remaining, Duration resetIn) {
            return update(key,
                    q -> new Quota(q.limit(), OptionalDouble.of(remaining), Optional.of(resetIn), q.window()));
        }

        /** {@code remaining} units of {@code key}, reset time unknown (the set assumes one of its windows). */
        public Builder remaining(String key, double remaining) {
            return update(key, q -> new Quota(q.limit(), OptionalDouble.of(remaining), q.resetIn(), q.window()));
        }

        /** The whole quota of {@code key}. */
        public Builder quota(String key, Quota quota) {
            quotas.put(Specs.key(key), Objects.requireNonNull(quota, "quota"));
            return this;
        }

        /** The call was refused (429, 503): its reservation is not counted as used. */
        public Builder refused(boolean refused) {
            this.refused = refused;
            return this;
        }

        /** The call was refused and nothing of {@link #pauseKeys} may be granted for {@code wait}. */
        public Builder retryAfter(Duration wait) {
            this.retryAfter = Optional.of(Objects.requireNonNull(wait, "wait"));
            this.refused = true;
            return this;
        }

        /** The keys a pause applies to (default: the keys this report names, or every rate limit if none). */
        public Builder pauseKeys(String... keys) {
            pauseKeys.clear();
            for (String key : keys) {
                pauseKeys.add(Specs.key(key));
            }
            return this;
        }

        /** Header values that could not be read (for stats). */
        public Builder unparsed(int count) {
            this.unparsed = count;
            return this;
        }

        /** The report. */
        public ProviderReport build() {
            Set<String> keys = pauseKeys.isEmpty() ? quotas.keySet() : pauseKeys;
            return new ProviderReport(quotas, retryAfter, refused, keys, unparsed);
        }

        private Builder update(String key, java.util.function.UnaryOperator<Quota> change) {
            quotas.put(Specs.key(key), change.apply(quotas.getOrDefault(key, Quota.NONE)));
            return this;
        }
    }
}
