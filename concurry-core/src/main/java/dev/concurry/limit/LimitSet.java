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
                return new LimitEngine(definition, chosen, store);
            } catch (RuntimeException | Error e) {
                store.close();
                throw e;
            }
        }
    }
}
