package dev.concurry.limit;

import dev.concurry.limit.spi.FamilyDefinition;
import dev.concurry.limit.spi.FamilyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A keyed family of limit sets (SPEC L24): one template of limits applied separately to each of any
 * number of keys — customers, tenants, API keys, IP addresses. Each key behaves exactly as its own
 * {@link LimitSet} of the template's limits (several limits taken atomically, settling, waiting first-come
 * first-served, refusals that explain themselves), without anyone building or keeping a set per key.
 *
 * <pre>{@code
 * KeyedLimits<String> perCustomer = KeyedLimits.<String>builder()
 *         .name("api")
 *         .add(RateLimit.of("requests", 100, Duration.ofMinutes(1)))
 *         .add(RateLimit.of("tokens", 50_000, Duration.ofMinutes(1)))
 *         .add(ResourceLimit.of("jobs", 3))
 *         .override(id -> id.startsWith("premium-"),                 // a tier: other capacities, same keys
 *                 RateLimit.of("requests", 1_000, Duration.ofMinutes(1)),
 *                 RateLimit.of("tokens", 500_000, Duration.ofMinutes(1)),
 *                 ResourceLimit.of("jobs", 10))
 *         .config(id -> Map.of("customer", id))                      // Acquisition.config(), Refusal.config()
 *         .maxKeys(1_000_000)
 *         .build();                                                  // in memory unless .backend(...)
 *
 * try (Acquisition acq = perCustomer.acquire(customerId, Request.of("requests", 1).and("tokens", 800))) {
 *     acq.update("tokens", serve().tokensUsed());                    // settled on close, per customer
 * }
 * }</pre>
 *
 * <p><b>Memory.</b> A key's state is created on its first use and dropped only when dropping it changes
 * nothing: nothing held, nothing owed, no window still counting, nobody waiting, no acquisition of it
 * still open (close every acquisition: an open one keeps its key). Idle keys are dropped once unused for
 * {@link Builder#evictIdleAfter(Duration)} (a key whose state still counts keeps only that state
 * meanwhile); with {@link Builder#maxKeys(int)} a new key beyond the
 * maximum first makes the family drop every idle key at once, and is refused with
 * {@link TooManyKeysException} when none is idle: a key that still counts is never dropped, since that
 * would make it more generous than its limits.
 *
 * <p><b>Backends.</b> In memory by default; any backend through {@link LimitBackend#openFamily}: shared
 * memory keeps one file per key, Redis and Hazelcast one set per key (the default).
 *
 * <p>A family is {@link AutoCloseable}: closing it fails every waiting acquirer and refuses new ones;
 * acquisitions already granted can still be closed.
 *
 * @param <K> the key type: any value with {@code equals} and {@code hashCode} (not an array)
 */
public interface KeyedLimits<K> extends AutoCloseable {

    /**
     * A builder for a family; at least one limit.
     *
     * <pre>{@code
     * KeyedLimits<InetAddress> perIp = KeyedLimits.<InetAddress>builder()
     *         .add(RateLimit.of("requests", 20, Duration.ofSeconds(1), RateAlgorithm.GCRA))
     *         .build();
     * }</pre>
     */
    static <K> Builder<K> builder() {
        return new Builder<>();
    }

    /** The family's name (the name of every key's set, in refusals and messages). */
    String name();

    /** The template's limits, in the order they were added. */
    List<Limit> limits();

    /**
     * The limits that apply to {@code key}: those of the first override whose predicate accepts it, else
     * the template's. Creates nothing.
     */
    List<Limit> limits(K key);

    /** The backend that holds the keys' state. */
    LimitBackend backend();

    /**
     * Blocks until every unit of {@code request} is granted to {@code key}, as
     * {@link Limiter#acquire(Request)} does for a set.
     *
     * <pre>{@code
     * try (Acquisition acq = perCustomer.acquire("acme", Request.of("requests", 1).and("tokens", 800))) { ... }
     * }</pre>
     *
     * @throws TooManyKeysException if {@code key} is new and the family holds {@code maxKeys} keys that
     *                              all still count
     */
    Acquisition acquire(K key, Request request);

    /**
     * Like {@link #acquire(Object, Request)}, but gives up at {@code timeout} with an
     * {@link AcquireTimeoutException} that says why (nothing is taken).
     *
     * <pre>{@code
     * Acquisition acq = perCustomer.acquire("acme", Request.of("requests", 1), Duration.ofSeconds(2));
     * }</pre>
     */
    Acquisition acquire(K key, Request request, Duration timeout);

    /**
     * Grants {@code request} to {@code key} now if it can, else empty; never blocks.
     *
     * <pre>{@code
     * Optional<Acquisition> now = perIp.tryAcquire(address, Request.of("requests", 1));
     * }</pre>
     */
    Optional<Acquisition> tryAcquire(K key, Request request);

    /**
     * Like {@link #tryAcquire(Object, Request)}, but a refusal explains itself (SPEC L25): a server can
     * answer 429 per client with a {@code Retry-After} from {@link Refusal#grantableIn()}.
     *
     * <pre>{@code
     * switch (perCustomer.attempt(apiKey, Request.of("requests", 1).and("tokens", 800))) {
     *     case Attempt.Granted g -> { try (Acquisition acq = g.acquisition()) { serve(); } }
     *     case Attempt.Refused r -> reply429(r.refusal().grantableIn());
     * }
     * }</pre>
     */
    Attempt attempt(K key, Request request);

    /**
     * A future completed when {@code request} is granted to {@code key}, holding no thread while it
     * waits; cancelling it withdraws the request with nothing taken.
     *
     * <pre>{@code
     * perCustomer.acquireAsync("acme", Request.of("requests", 1)).thenAccept(acq -> { try (acq) { call(); } });
     * }</pre>
     */
    CompletableFuture<Acquisition> acquireAsync(K key, Request request);

    /**
     * Like {@link #acquireAsync(Object, Request)}, but the future fails with
     * {@link AcquireTimeoutException} when {@code timeout} passes first.
     *
     * <pre>{@code
     * perCustomer.acquireAsync("acme", Request.of("requests", 1), Duration.ofSeconds(2));
     * }</pre>
     */
    CompletableFuture<Acquisition> acquireAsync(K key, Request request, Duration timeout);

    /**
     * The {@link Limiter} of one key: every acquisition through it is this family's for {@code key}. It
     * can be handed to code that takes a limiter, such as a worker pool
     * ({@code Worker.options(..).limits(perTenant.forKey("acme"))}, in thread and virtual-thread modes).
     *
     * <pre>{@code
     * Limiter acme = perCustomer.forKey("acme");
     * try (Acquisition acq = acme.acquire(Request.of("requests", 1))) { ... }
     * }</pre>
     */
    Limiter forKey(K key);

    /**
     * The snapshot of {@code key}'s set (SPEC L15). Its counters count since the key's state was last
     * created in this JVM; a key whose state is not held (never used, or dropped while idle) reports its
     * limits full and every counter 0. Creates nothing.
     *
     * <pre>{@code
     * double left = perCustomer.stats("acme").key("tokens").available();
     * }</pre>
     */
    LimitStats stats(K key);

    /**
     * The family's own counters: keys held now, created, evicted, refused.
     *
     * <pre>{@code
     * long held = perCustomer.keyedStats().keys();
     * }</pre>
     */
    KeyedStats keyedStats();

    /** Fails waiting acquirers with {@link IllegalStateException}, refuses new ones, frees resources. */
    @Override
    void close();

    /** Collects a family's template, tiers, config, name, backend and bounds; validates at {@link #build()}. */
    final class Builder<K> {
        private static final AtomicLong NAMES = new AtomicLong();
        private final List<Limit> limits = new ArrayList<>();
        private final List<KeyedFamily.Tier<K>> overrides = new ArrayList<>();
        private final Map<String, String> config = new LinkedHashMap<>();
        private Function<? super K, ? extends Map<String, String>> configOf;
        private String name;
        private LimitBackend backend;
        private int maxKeys = Integer.MAX_VALUE;
        private Duration evictIdleAfter = Duration.ofMinutes(1);

        private Builder() {
        }

        /** Adds a limit to the template; its key must differ from every key added before. */
        public Builder<K> add(Limit limit) {
            limits.add(Objects.requireNonNull(limit, "limit"));
            return this;
        }

        /** Adds every limit of {@code all} to the template. */
        public Builder<K> addAll(Iterable<? extends Limit> all) {
            all.forEach(this::add);
            return this;
        }

        /**
         * A tier: the keys {@code applies} accepts get {@code limits} instead of the template's. Overrides
         * are tried in the order they were added, the first that accepts a key wins. A tier limits the same
         * keys as the template (with other capacities, windows or algorithms), so that a request valid
         * for one key of the family is valid for every key.
         *
         * <pre>{@code
         * .override(id -> id.startsWith("premium-"), RateLimit.of("requests", 1_000, Duration.ofMinutes(1)))
         * }</pre>
         */
        public Builder<K> override(Predicate<? super K> applies, Limit... limits) {
            return override(applies, List.of(limits));
        }

        /** {@link #override(Predicate, Limit...)} with the tier's limits in a collection. */
        public Builder<K> override(Predicate<? super K> applies, Iterable<? extends Limit> limits) {
            Objects.requireNonNull(applies, "applies");
            List<Limit> tier = new ArrayList<>();
            limits.forEach(limit -> tier.add(Objects.requireNonNull(limit, "limit")));
            overrides.add(new KeyedFamily.Tier<>(applies, tier));
            return this;
        }

        /** Adds metadata entries every key's acquisitions return from {@link Acquisition#config()}. */
        public Builder<K> config(Map<String, String> entries) {
            config.putAll(Specs.config(entries));
            return this;
        }

        /**
         * Per-key metadata, added to the entries of {@link #config(Map)} (and replacing those with the same
         * name), returned by {@link Acquisition#config()} and {@link Refusal#config()}. Called once each
         * time a key's state is created.
         *
         * <pre>{@code
         * .config(customerId -> Map.of("customer", customerId))
         * }</pre>
         */
        public Builder<K> config(Function<? super K, ? extends Map<String, String>> configOf) {
            this.configOf = Objects.requireNonNull(configOf, "configOf");
            return this;
        }

        /** Names the family; a backend shared by processes shares each key's quota between families of one name. */
        public Builder<K> name(String name) {
            this.name = Specs.key(name);
            return this;
        }

        /** Where the keys' state lives; {@link Backends#inMemory()} by default. */
        public Builder<K> backend(LimitBackend backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * At most {@code maxKeys} keys held at once (unbounded by default). A new key beyond it makes the
         * family drop its idle keys at once; when none is idle the new key is refused with
         * {@link TooManyKeysException}, never by dropping a key that still counts.
         */
        public Builder<K> maxKeys(int maxKeys) {
            if (maxKeys < 1) {
                throw new IllegalArgumentException("maxKeys must be at least 1, got: " + maxKeys);
            }
            this.maxKeys = maxKeys;
            return this;
        }

        /**
         * How long a key must stay unused before it lets go of what it does not need: a key whose state
         * is back to initial is then dropped, one whose state still counts keeps only its state (its
         * engine is built again on its next use) and is dropped once its state is back to initial. Each
         * happens within twice this after the last use. One minute by default. Shorter frees memory
         * sooner; longer spares keys used now and then from being built again.
         */
        public Builder<K> evictIdleAfter(Duration idle) {
            Objects.requireNonNull(idle, "idle");
            if (idle.isNegative() || idle.isZero()) {
                throw new IllegalArgumentException("evictIdleAfter must be positive, got: " + idle);
            }
            this.evictIdleAfter = idle;
            return this;
        }

        /**
         * Builds the family.
         *
         * @throws IllegalArgumentException      if the template is empty, has two limits with one key or more
         *                                       than 64 limits, or an override limits other keys
         * @throws UnsupportedOperationException if the backend cannot hold keyed families
         */
        public KeyedLimits<K> build() {
            if (limits.isEmpty()) {
                throw new IllegalArgumentException("a keyed family needs at least one limit in its template");
            }
            List<Limit> template = List.copyOf(Specs.setLimits(limits));
            Set<String> keys = keysOf(template);
            List<KeyedFamily.Tier<K>> tiers = new ArrayList<>();
            for (int i = 0; i < overrides.size(); i++) {
                KeyedFamily.Tier<K> tier = overrides.get(i);
                List<Limit> tierLimits = List.copyOf(Specs.setLimits(tier.limits()));
                if (!keysOf(tierLimits).equals(keys)) {
                    throw new IllegalArgumentException("override #" + (i + 1) + " limits the keys " + keysOf(tierLimits)
                            + " but the template limits " + keys + ": a tier limits the same keys, with other"
                            + " capacities, windows or algorithms");
                }
                tiers.add(new KeyedFamily.Tier<>(tier.applies(), tierLimits));
            }
            String familyName = name != null ? name : "keyed-" + NAMES.incrementAndGet();
            List<List<Limit>> all = new ArrayList<>();
            all.add(template);
            tiers.forEach(tier -> all.add(tier.limits()));
            LimitBackend chosen = backend != null ? backend : Backends.inMemory();
            FamilyStore stores = chosen.openFamily(new FamilyDefinition(familyName, all));
            try {
                return new KeyedFamily<>(familyName, template, tiers, Map.copyOf(config), configOf, chosen, stores,
                        maxKeys, evictIdleAfter);
            } catch (RuntimeException | Error e) {
                stores.close();
                throw e;
            }
        }

        private static Set<String> keysOf(List<Limit> limits) {
            return limits.stream().map(Limit::key).collect(Collectors.toCollection(java.util.TreeSet::new));
        }
    }
}
