package dev.concurry.micrometer;

import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.worker.PoolStats;
import dev.concurry.worker.TaskExecutor;
import dev.concurry.worker.WorkerPool;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Exports the statistics of a {@link LimitSet}, a {@link LimitPool}, a {@link KeyedLimits} family, a
 * {@link WorkerPool} or a {@link TaskExecutor} as
 * Micrometer meters (SPEC P2), so that utilisation, waiting time and rejections can be graphed.
 *
 * <pre>{@code
 * MeterRegistry registry = new SimpleMeterRegistry();      // or Prometheus, Datadog...
 * ConcurryMetrics.of(limits).bindTo(registry);              // a LimitSet
 * ConcurryMetrics.of(regions).tags("pool", "llm").bindTo(registry);   // a LimitPool
 * ConcurryMetrics.of(workers).bindTo(registry);             // a WorkerPool
 * }</pre>
 *
 * <p>It is a {@link MeterBinder}, so a Spring Boot application can simply declare it as a bean.
 *
 * <p><b>Limit sets</b> (tags {@code set}, {@code backend}, {@code region}, and for per-key meters
 * {@code key}):
 * <ul>
 *   <li>per key, gauges {@code concurry.limit.capacity}, {@code concurry.limit.available} (negative
 *       after overuse), {@code concurry.limit.in.use}, {@code concurry.limit.waiting} (acquirers waiting
 *       for the key), and counters {@code concurry.limit.refunded} and {@code concurry.limit.charged}
 *       (units of the key given back or charged when acquisitions were settled);</li>
 *   <li>per key, what the provider last said ({@code LimitSet.observe}): gauges
 *       {@code concurry.limit.provider.limit}, {@code concurry.limit.provider.remaining} (NaN until it
 *       said so) and {@code concurry.limit.provider.paused} (seconds its last pause still lasts); per set,
 *       counters {@code concurry.limit.provider.reports}, {@code .refusals}, {@code .pauses} and
 *       {@code .unparsed};</li>
 *   <li>per set (an acquisition spans keys), counters {@code concurry.limit.grants},
 *       {@code concurry.limit.timeouts}, {@code concurry.limit.rejections} ({@code tryAcquire} that
 *       returned empty) and the timer {@code concurry.limit.wait} (acquisitions that had to wait, and the
 *       time they waited on the set's clock; acquisitions granted at once are not in it).</li>
 * </ul>
 * The {@code region} tag is the set's {@link LimitSet#config() config} entry {@code region};
 * {@link #configTags(String...)} chooses other entries. A missing entry is tagged {@code "none"}, so
 * every meter of one name has the same tag keys (Prometheus requires it). Config entries are not all
 * copied by default: they may hold account ids or keys that do not belong in a metrics system.
 *
 * <p><b>Limit pools</b>: every set of the pool gets the limit set meters above (so a set bound on its
 * own and through a pool has the same meters, once), plus {@code concurry.limit.pool.dispatched} per
 * set (grants the set served through the pool) and the pool-wide counters
 * {@code concurry.limit.pool.failovers}, {@code concurry.limit.pool.timeouts} and
 * {@code concurry.limit.pool.rejections}. A set's own {@code concurry.limit.rejections} also counts
 * each time the pool tried the set in vain before failing over or waiting. Give each pool of one
 * registry a distinguishing tag ({@link #poolName(String)}), or their pool-wide meters are one.
 *
 * <p><b>Keyed families</b> (tags {@code family}, {@code backend}): gauge {@code concurry.keyed.keys} (keys
 * whose state this JVM holds), counters {@code concurry.keyed.created}, {@code concurry.keyed.evictions}
 * (keys dropped once idle) and {@code concurry.keyed.refused} (new keys refused at {@code maxKeys}). No
 * meter per key unless asked: a family may hold millions. {@link #perKey(Object...)} adds, for the keys
 * named, the limit set meters above under {@code concurry.keyed.*} names ({@code concurry.keyed.available},
 * {@code concurry.keyed.grants}...), tagged {@code family}, {@code member} (the key's
 * {@code String.valueOf}) and {@code key}; their counters count since the key's state was last created.
 *
 * <p><b>Worker pools and task executors</b> (tags {@code pool}, {@code mode}): gauges
 * {@code concurry.worker.active} and {@code concurry.worker.queued}, the counter {@code concurry.worker.calls} (tag {@code outcome}
 * {@code success} or {@code failure}: calls that ended with a result or an exception) and the timer
 * {@code concurry.worker.call} (calls that ended, and the time they ran).
 *
 * <p>Cost: nothing is added to acquiring or calling. Every meter reads a fresh
 * {@link dev.concurry.limit.Limiter#stats() stats()} snapshot when the registry publishes it; the
 * counters and timers are functions over the snapshots' cumulative totals. Meters hold their source
 * weakly (Micrometer's default): a set or pool that is no longer referenced stops being reported.
 * Instances are immutable; {@link #tags} and {@link #configTags} return new ones.
 */
public final class ConcurryMetrics implements MeterBinder {
    private static final String NONE = "none";

    private final Object source;
    private final Tags tags;
    private final List<String> configKeys;
    /** Tags of a limit pool's own meters only (see {@link #poolName}). */
    private final Tags poolTags;
    /** A keyed family's keys that get meters of their own (see {@link #perKey}). */
    private final List<Object> members;

    private ConcurryMetrics(Object source, Tags tags, List<String> configKeys, Tags poolTags, List<Object> members) {
        this.source = source;
        this.tags = tags;
        this.configKeys = configKeys;
        this.poolTags = poolTags;
        this.members = members;
    }

    /**
     * The meters of one limit set.
     *
     * <pre>{@code
     * ConcurryMetrics.of(limits).bindTo(registry);
     * double left = registry.get("concurry.limit.available").tag("key", "tokens").gauge().value();
     * }</pre>
     */
    public static ConcurryMetrics of(LimitSet set) {
        return new ConcurryMetrics(Objects.requireNonNull(set, "set"), Tags.empty(), List.of("region"), Tags.empty(),
                List.of());
    }

    /**
     * The meters of a limit pool: each of its sets, and the pool's dispatching.
     *
     * <pre>{@code
     * ConcurryMetrics.of(LimitPool.of(usEast, euWest)).tags("pool", "llm").bindTo(registry);
     * }</pre>
     */
    public static ConcurryMetrics of(LimitPool pool) {
        return new ConcurryMetrics(Objects.requireNonNull(pool, "pool"), Tags.empty(), List.of("region"), Tags.empty(),
                List.of());
    }

    /**
     * The meters of a keyed family: how many keys it holds, creates, drops and refuses; per key only for
     * the keys given to {@link #perKey(Object...)}.
     *
     * <pre>{@code
     * ConcurryMetrics.of(perCustomer).bindTo(registry);
     * ConcurryMetrics.of(perCustomer).perKey("acme", "globex").bindTo(registry);   // two customers in detail
     * }</pre>
     */
    public static ConcurryMetrics of(KeyedLimits<?> family) {
        return new ConcurryMetrics(Objects.requireNonNull(family, "family"), Tags.empty(), List.of(), Tags.empty(),
                List.of());
    }

    /**
     * The meters of a worker pool (or a single worker).
     *
     * <pre>{@code
     * ConcurryMetrics.of(Worker.options(AiWorker.class).maxWorkers(10).init(AiWorker::new)).bindTo(registry);
     * }</pre>
     */
    public static ConcurryMetrics of(WorkerPool<?> pool) {
        return new ConcurryMetrics(Objects.requireNonNull(pool, "pool"), Tags.empty(), List.of(), Tags.empty(),
                List.of());
    }

    /**
     * The meters of a task executor: those of a worker pool, tagged with the executor's name.
     *
     * <pre>{@code
     * ConcurryMetrics.of(TaskExecutor.options().name("fetchers").mode(Mode.VIRTUAL).init()).bindTo(registry);
     * }</pre>
     */
    public static ConcurryMetrics of(TaskExecutor executor) {
        return new ConcurryMetrics(Objects.requireNonNull(executor, "executor"), Tags.empty(), List.of(), Tags.empty(),
                List.of());
    }

    /**
     * Adds tags to every meter, as key-value pairs.
     *
     * <pre>{@code
     * ConcurryMetrics.of(limits).tags("service", "summarizer").bindTo(registry);
     * }</pre>
     *
     * @throws IllegalArgumentException if there is an odd number of strings
     */
    public ConcurryMetrics tags(String... keyValues) {
        Objects.requireNonNull(keyValues, "keyValues");
        if (keyValues.length % 2 != 0) {
            throw new IllegalArgumentException("tags come as key-value pairs; got an odd number of strings: "
                    + keyValues.length);
        }
        return tags(Tags.of(keyValues));
    }

    /** Adds tags to every meter. */
    public ConcurryMetrics tags(Iterable<Tag> more) {
        return new ConcurryMetrics(source, tags.and(Objects.requireNonNull(more, "tags")), configKeys, poolTags,
                members);
    }

    /**
     * Which entries of each set's {@link LimitSet#config() config} become tags ({@code region} by
     * default); a set without an entry is tagged {@code "none"}. Ignored for worker pools.
     *
     * <pre>{@code
     * ConcurryMetrics.of(regions).configTags("region", "endpoint").bindTo(registry);
     * }</pre>
     */
    public ConcurryMetrics configTags(String... keys) {
        return new ConcurryMetrics(source, tags, List.of(keys), poolTags, members);
    }

    /**
     * Tags a limit pool's own meters ({@code concurry.limit.pool.*}) with {@code pool=name}, and leaves
     * the meters of its sets as they are: several pools of one registry stay apart, and a set bound on
     * its own and through a pool is still one meter. Ignored for limit sets and worker pools.
     *
     * <pre>{@code
     * ConcurryMetrics.of(regions).poolName("regions").bindTo(registry);
     * ConcurryMetrics.of(accounts).poolName("accounts").bindTo(registry);
     * }</pre>
     */
    public ConcurryMetrics poolName(String name) {
        Objects.requireNonNull(name, "name");
        return new ConcurryMetrics(source, tags, configKeys, Tags.of("pool", name), members);
    }

    /**
     * For a keyed family: meters of their own for these keys (see the class comment), in addition to the
     * family's. Each is a time series, so name the few keys worth one (a largest customer, a canary).
     * Ignored for other sources.
     *
     * <pre>{@code
     * ConcurryMetrics.of(perCustomer).perKey("acme").bindTo(registry);
     * double left = registry.get("concurry.keyed.available").tag("member", "acme").tag("key", "tokens").gauge().value();
     * }</pre>
     */
    public ConcurryMetrics perKey(Object... keys) {
        List<Object> more = new ArrayList<>(members);
        for (Object key : keys) {
            more.add(Objects.requireNonNull(key, "key"));
        }
        return new ConcurryMetrics(source, tags, configKeys, poolTags, List.copyOf(more));
    }

    /** Registers the meters in {@code registry}. Binding the same source twice registers nothing new. */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        switch (source) {
            case LimitSet set -> bindSet(registry, set);
            case LimitPool pool -> bindPool(registry, pool);
            case KeyedLimits<?> family -> bindFamily(registry, family);
            case WorkerPool<?> pool -> bindWorkers(registry, pool, WorkerPool::stats);
            case TaskExecutor executor -> bindWorkers(registry, executor, TaskExecutor::stats);
            default -> throw new AssertionError(source);
        }
    }

    // ---- limit sets ------------------------------------------------------------------------------

    private Tags setTags(LimitSet set) {
        List<Tag> list = new ArrayList<>();
        list.add(Tag.of("set", set.name()));
        list.add(Tag.of("backend", set.backend().name()));
        for (String key : configKeys) {
            list.add(Tag.of(key, set.config().getOrDefault(key, NONE)));
        }
        return tags.and(list);
    }

    private void bindSet(MeterRegistry registry, LimitSet set) {
        bindStats(registry, "concurry.limit.", set, LimitSet::stats, set.limits(), setTags(set));
    }

    /**
     * The meters of one limiter's {@link LimitStats}, read from {@code source} (held weakly) by
     * {@code stats}: per limit key, and for the whole limiter.
     */
    private static <T> void bindStats(MeterRegistry registry, String prefix, T source, Function<T, LimitStats> stats,
            List<Limit> limits, Tags setTags) {
        for (Limit limit : limits) {
            String key = limit.key();
            Tags keyTags = setTags.and("key", key);
            keyGauge(registry, prefix + "capacity", "units the key allows (per window for a rate limit)",
                    source, stats, key, LimitStats.KeyStats::capacity, keyTags);
            keyGauge(registry, prefix + "available", "units of the key that could be granted now",
                    source, stats, key, LimitStats.KeyStats::available, keyTags);
            keyGauge(registry, prefix + "in.use", "units of the key counted against it now (permits held)",
                    source, stats, key, LimitStats.KeyStats::inUse, keyTags);
            keyGauge(registry, prefix + "waiting", "acquirers waiting for the key now",
                    source, stats, key, k -> k.waiting(), keyTags);
            FunctionCounter.builder(prefix + "refunded", source, cumulative(s -> stats.apply(s).key(key).refunded()))
                    .description("units of the key refunded when acquisitions used less than requested")
                    .tags(keyTags).register(registry);
            FunctionCounter.builder(prefix + "charged", source, cumulative(s -> stats.apply(s).key(key).charged()))
                    .description("units of the key charged when acquisitions used more than requested")
                    .tags(keyTags).register(registry);
            keyGauge(registry, prefix + "provider.limit", "the limit the provider last reported for the key",
                    source, stats, key, k -> k.provider().limit().orElse(Double.NaN), keyTags);
            keyGauge(registry, prefix + "provider.remaining", "what the provider last said remains of the key",
                    source, stats, key, k -> k.provider().remaining().orElse(Double.NaN), keyTags);
            keyGauge(registry, prefix + "provider.paused", "seconds the provider's last pause of the key still lasts",
                    source, stats, key, k -> k.provider().pausedFor().toNanos() / 1e9, keyTags);
        }
        FunctionCounter
                .builder(prefix + "provider.reports", source, cumulative(s -> stats.apply(s).provider().reports()))
                .description("provider reports observed (response headers read)").tags(setTags).register(registry);
        FunctionCounter.builder(prefix + "provider.refusals", source,
                cumulative(s -> stats.apply(s).provider().refusals()))
                .description("calls the provider refused (429, 503)").tags(setTags).register(registry);
        FunctionCounter.builder(prefix + "provider.pauses", source, cumulative(s -> stats.apply(s).provider().pauses()))
                .description("refusals with a retry time, which paused the set").tags(setTags).register(registry);
        FunctionCounter.builder(prefix + "provider.unparsed", source,
                cumulative(s -> stats.apply(s).provider().unparsed()))
                .description("provider header values that could not be read and were ignored").tags(setTags)
                .register(registry);
        FunctionCounter.builder(prefix + "grants", source, cumulative(s -> stats.apply(s).granted()))
                .description("acquisitions granted").tags(setTags).register(registry);
        FunctionCounter.builder(prefix + "timeouts", source, cumulative(s -> stats.apply(s).timedOut()))
                .description("acquisitions that timed out").tags(setTags).register(registry);
        FunctionCounter.builder(prefix + "rejections", source, cumulative(s -> stats.apply(s).rejected()))
                .description("tryAcquire calls that found no room").tags(setTags).register(registry);
        FunctionTimer.builder(prefix + "wait", source, cumulative((T s) -> stats.apply(s).waits()),
                cumulative(s -> stats.apply(s).waitedNanos()), TimeUnit.NANOSECONDS)
                .description("time acquisitions that had to wait waited before they were granted")
                .tags(setTags).register(registry);
    }

    private static <T> void keyGauge(MeterRegistry registry, String name, String description, T source,
            Function<T, LimitStats> stats, String key,
            ToDoubleFunction<LimitStats.KeyStats> value, Tags tags) {
        Gauge.builder(name, source, current(s -> value.applyAsDouble(stats.apply(s).key(key))))
                .description(description).tags(tags).register(registry);
    }

    // ---- keyed families --------------------------------------------------------------------------

    private <K> void bindFamily(MeterRegistry registry, KeyedLimits<K> family) {
        Tags familyTags = tags.and("family", family.name(), "backend", family.backend().name());
        Gauge.builder("concurry.keyed.keys", family, current(f -> f.keyedStats().keys()))
                .description("keys whose state this JVM holds now").tags(familyTags).register(registry);
        FunctionCounter.builder("concurry.keyed.created", family, cumulative(f -> f.keyedStats().created()))
                .description("key states created (a key dropped and used again is created again)").tags(familyTags)
                .register(registry);
        FunctionCounter.builder("concurry.keyed.evictions", family, cumulative(f -> f.keyedStats().evicted()))
                .description("key states dropped once idle").tags(familyTags).register(registry);
        FunctionCounter.builder("concurry.keyed.refused", family, cumulative(f -> f.keyedStats().refused()))
                .description("new keys refused because maxKeys keys were held and none was idle").tags(familyTags)
                .register(registry);
        for (Object member : members) {
            @SuppressWarnings("unchecked")
            K key = (K) member;
            bindStats(registry, "concurry.keyed.", family, f -> f.stats(key), family.limits(key),
                    familyTags.and("member", String.valueOf(key)));
        }
    }

    // ---- limit pools -----------------------------------------------------------------------------

    private void bindPool(MeterRegistry registry, LimitPool pool) {
        List<LimitSet> sets = pool.sets();
        for (int i = 0; i < sets.size(); i++) {
            LimitSet set = sets.get(i);
            bindSet(registry, set);
            int index = i;
            FunctionCounter.builder("concurry.limit.pool.dispatched", pool,
                    cumulative(p -> p.poolStats().sets().get(index).dispatched()))
                    .description("grants the set served through the pool").tags(setTags(set).and(poolTags))
                    .register(registry);
        }
        FunctionCounter.builder("concurry.limit.pool.failovers", pool, cumulative(p -> p.poolStats().failovers()))
                .description("grants served by another set than the preferred one").tags(tags.and(poolTags))
                .register(registry);
        FunctionCounter.builder("concurry.limit.pool.timeouts", pool, cumulative(p -> p.poolStats().timedOut()))
                .description("acquisitions on the pool that timed out").tags(tags.and(poolTags)).register(registry);
        FunctionCounter.builder("concurry.limit.pool.rejections", pool, cumulative(p -> p.poolStats().rejected()))
                .description("tryAcquire calls on the pool that found no set with room").tags(tags.and(poolTags))
                .register(registry);
    }

    // ---- worker pools ----------------------------------------------------------------------------

    private <P> void bindWorkers(MeterRegistry registry, P pool, Function<P, PoolStats> stats) {
        PoolStats first = stats.apply(pool);
        Tags poolTags = tags.and("pool", first.name(), "mode", first.mode().name().toLowerCase(Locale.ROOT));
        Gauge.builder("concurry.worker.active", pool, current(p -> stats.apply(p).active()))
                .description("calls running now").tags(poolTags).register(registry);
        Gauge.builder("concurry.worker.queued", pool, current(p -> stats.apply(p).queued()))
                .description("calls accepted but not started yet").tags(poolTags).register(registry);
        FunctionCounter.builder("concurry.worker.calls", pool, cumulative(p -> succeeded(stats.apply(p))))
                .description("calls that ended").tags(poolTags).tag("outcome", "success").register(registry);
        FunctionCounter.builder("concurry.worker.calls", pool, cumulative(p -> stats.apply(p).failed()))
                .description("calls that ended").tags(poolTags).tag("outcome", "failure").register(registry);
        FunctionTimer.builder("concurry.worker.call", pool, cumulative((P p) -> stats.apply(p).completed()),
                cumulative(p -> stats.apply(p).callNanos()), TimeUnit.NANOSECONDS)
                .description("time calls ran, from start to result or exception").tags(poolTags)
                .register(registry);
    }

    private static long succeeded(PoolStats stats) {
        return stats.completed() - stats.failed();
    }

    /**
     * A meter must not fail a whole publication (or a Prometheus scrape) because one source cannot
     * report now, for example a remote backend that is down: a gauge then reads NaN (unknown now).
     */
    private static <T> ToDoubleFunction<T> current(ToDoubleFunction<T> read) {
        return source -> {
            try {
                return read.applyAsDouble(source);
            } catch (RuntimeException e) {
                return Double.NaN;
            }
        };
    }

    /** Like {@link #current}, but a cumulative total keeps its last value (a drop would read as a reset). */
    private static <T> LastValue<T> cumulative(ToDoubleFunction<T> read) {
        return new LastValue<>(read);
    }

    /** One cumulative meter's reading, remembered for when the source cannot report. */
    private static final class LastValue<T> implements ToDoubleFunction<T>, ToLongFunction<T> {
        private final ToDoubleFunction<T> read;
        private volatile double last;

        LastValue(ToDoubleFunction<T> read) {
            this.read = read;
        }

        @Override
        public double applyAsDouble(T source) {
            try {
                last = read.applyAsDouble(source);
            } catch (RuntimeException e) {
                // keep the last value
            }
            return last;
        }

        @Override
        public long applyAsLong(T source) {
            return (long) applyAsDouble(source);
        }
    }
}
