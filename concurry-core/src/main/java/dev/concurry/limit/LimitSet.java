package dev.concurry.limit;

import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The enforcer (SPEC layer 2): one or more {@link Limit}s acquired atomically (every requested key or
 * none) plus an immutable {@link #config()} such as a region or an account.
 *
 * <pre>{@code
 * LimitSet limits = LimitSet.builder()
 *         .add(RateLimit.of("requests", 500, Duration.ofMinutes(1)))
 *         .add(RateLimit.of("tokens", 10_000, Duration.ofMinutes(1)))
 *         .config(Map.of("region", "us-east-1"))
 *         .build();                                  // in-memory unless .backend(...) says otherwise
 *
 * try (Acquisition acq = limits.acquire(Request.of("requests", 1).and("tokens", 100))) {
 *     Completion c = client.complete(prompt);
 *     acq.update("tokens", c.totalTokens());
 * }
 * }</pre>
 *
 * <p>A set is {@link AutoCloseable}: closing it fails its waiting acquirers and refuses new ones, and
 * frees what its backend holds (files, connections). Acquisitions already granted can still be closed.
 */
public interface LimitSet extends Limiter, AutoCloseable {

    /** A builder for a set; at least one limit, unless you want the {@linkplain #empty() empty set}. */
    static Builder builder() {
        return new Builder();
    }

    /** The set with no limits: grants everything at once, ignores keys, allocates nothing (SPEC L14). */
    static LimitSet empty() {
        return EmptyLimitSet.INSTANCE;
    }

    /** The set's name, unique per backend; backends shared by processes use it as the identity. */
    String name();

    /** The limits, in the order they were added. */
    List<Limit> limits();

    /** The immutable metadata handed to every acquisition of this set. */
    Map<String, String> config();

    /** The backend that holds this set's state. */
    LimitBackend backend();

    /**
     * Tells the set what the provider reported (SPEC F1–F4), for every worker and every process using
     * the set. Never throws for what the report says; prefer {@link Acquisition#observe} for the
     * response to a call made under an acquisition (it also stops counting a refused call).
     *
     * <pre>{@code
     * limits.observe(ProviderHeaders.openAi(response.statusCode(), response.headers().map()));
     * }</pre>
     *
     * <p>What the set does, per key of the set that the report names (a key it does not have is ignored;
     * resource limits are never affected):
     * <ul>
     *   <li><b>remaining R, reset in T</b> (F2): until T, the set grants at most R more units of the key
     *       than it had granted when it was told (so report as the response arrives), however many
     *       workers and processes share it: it is never more generous than the provider, and may stay
     *       stricter (its own limit still applies). Units of grants made after the report that are
     *       refunded come back to that budget; grants made before it are not counted in it (the provider
     *       counted them). After T, only the configured limit applies. A report without a reset time
     *       lasts one window of the key. A report about a call granted after the one whose report set
     *       the budget (or observed on the set itself) replaces it; a report about an earlier call (an
     *       older answer read late) can only lower it.</li>
     *   <li><b>a refused call with a retry time</b> (429 or 503 with {@code Retry-After}, F3): no
     *       acquisition of the paused keys is granted before that time, in any worker or process;
     *       waiters wake exactly when it ends. A pause is only ever extended.</li>
     *   <li><b>a limit L</b> that differs from the configured capacity (for the same window, or when the
     *       provider names none; F4): shown in {@link LimitStats.KeyStats#provider()} and logged once per
     *       key; adopted only if the set was built with {@link Builder#adoptProviderLimits(boolean)}:
     *       the set then counts every unit as capacity / L units, so it admits L per window.</li>
     * </ul>
     * A closed set ignores reports.
     */
    void observe(ProviderReport report);

    /** Fails waiting acquirers with {@link IllegalStateException}, refuses new ones, frees resources. */
    @Override
    void close();

    /** Collects the limits, name, config and backend of a set; validates at {@link #build()}. */
    final class Builder {
        private static final AtomicLong NAMES = new AtomicLong();
        private final List<Limit> limits = new ArrayList<>();
        private final Map<String, String> config = new LinkedHashMap<>();
        private String name;
        private LimitBackend backend;
        private boolean adoptProviderLimits;

        private Builder() {
        }

        /** Adds a limit; its key must differ from every key added before. */
        public Builder add(Limit limit) {
            limits.add(Objects.requireNonNull(limit, "limit"));
            return this;
        }

        /** Adds every limit of {@code all}. */
        public Builder addAll(Iterable<? extends Limit> all) {
            all.forEach(this::add);
            return this;
        }

        /** Adds metadata entries (region, account...) returned by {@link Acquisition#config()}. */
        public Builder config(Map<String, String> entries) {
            config.putAll(Specs.config(entries));
            return this;
        }

        /** Adds one metadata entry. */
        public Builder config(String key, String value) {
            return config(Map.of(key, value));
        }

        /** Names the set; sets of a shared backend with the same name share one quota. */
        public Builder name(String name) {
            this.name = Specs.key(name);
            return this;
        }

        /** Where the state lives; {@link Backends#inMemory()} by default. */
        public Builder backend(LimitBackend backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * Whether a limit the provider reports ({@link LimitSet#observe}) replaces the configured
         * capacity of its key (default: false, it is only reported in stats and logged once). With
         * {@code true}, the set admits what the provider allows per window, more or less than
         * configured; the state shared by every process using the set changes, so every process counts
         * against the adopted limit.
         *
         * <pre>{@code
         * LimitSet.builder().add(RateLimit.of("tokens", 10_000, Duration.ofMinutes(1)))
         *         .adoptProviderLimits(true)      // the provider says 30,000: use 30,000
         *         .build();
         * }</pre>
         */
        public Builder adoptProviderLimits(boolean adopt) {
            this.adoptProviderLimits = adopt;
            return this;
        }

        /**
         * Builds the set.
         *
         * @throws IllegalArgumentException if two limits share a key or there are more than 64 limits
         */
        public LimitSet build() {
            Specs.setLimits(limits);
            String setName = name != null ? name : "limits-" + NAMES.incrementAndGet();
            LimitSetDefinition definition = new LimitSetDefinition(setName, limits, config);
            if (limits.isEmpty()) {
                return new EmptyLimitSet(definition);
            }
            LimitBackend chosen = backend != null ? backend : Backends.inMemory();
            LimitStore store = chosen.open(definition);
            try {
                return new LimitEngine(definition, chosen, store, adoptProviderLimits);
            } catch (RuntimeException | Error e) {
                store.close();
                throw e;
            }
        }
    }
}
