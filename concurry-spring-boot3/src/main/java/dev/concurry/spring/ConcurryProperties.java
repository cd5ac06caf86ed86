package dev.concurry.spring;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.PoolBalancing;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.worker.LoadBalancing;
import dev.concurry.worker.Mode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Everything under {@code concurry.*}: limit sets, limit pools and worker pools, each declared by name
 * and registered as a bean of that name, closed with the application context.
 *
 * <pre>{@code
 * concurry:
 *   limit-sets:
 *     openai:
 *       backend: redis                     # in-memory (default), shared-memory, redis, hazelcast
 *       config: { region: us-east-1 }
 *       limits:
 *         - { type: rate, key: requests, capacity: 500, window: 1m }
 *         - { type: rate, key: tokens, capacity: 10000, window: 1m, algorithm: token-bucket }
 *   limit-pools:
 *     regions: { sets: [us-east, eu-west], balancing: round-robin }
 *   workers:
 *     summarizers: { mode: virtual, max-workers: 20, limits: openai }
 * }</pre>
 *
 * <p>Every value is checked when the application starts: a negative capacity, a missing window, an
 * unknown backend or a misspelt property name fails the start with a message naming the property.
 *
 * @param limitSets  limit sets by bean name
 * @param limitPools limit pools by bean name, over limit sets declared here or as beans
 * @param workers    worker pools (task executors running plain functions) by bean name
 * @param metrics    Micrometer meters
 * @param limited    the {@link Limited @Limited} annotation
 */
@ConfigurationProperties(prefix = "concurry", ignoreUnknownFields = false)
public record ConcurryProperties(Map<String, LimitSetProperties> limitSets, Map<String, LimitPoolProperties> limitPools,
        Map<String, WorkerPoolProperties> workers, @DefaultValue MetricsProperties metrics,
        @DefaultValue LimitedProperties limited) {

    /** Replaces absent maps by empty ones and keeps the declaration order. */
    public ConcurryProperties {
        limitSets = ordered(limitSets);
        limitPools = ordered(limitPools);
        workers = ordered(workers);
    }

    private static <V> Map<String, V> ordered(Map<String, V> map) {
        return map == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(map));
    }

    /**
     * One limit set ({@code concurry.limit-sets.<name>}).
     *
     * @param backend where the state lives: {@code in-memory} (one JVM, the default),
     *                {@code shared-memory} (every JVM of this host that uses the set's name),
     *                {@code redis} (every JVM using the application's Redis) or {@code hazelcast}
     * @param name    the set's name inside its backend (JVMs sharing a backend share the quota of a
     *                name); the bean name by default
     * @param file    shared-memory only: the memory-mapped file; by default one derived from the name in
     *                the temporary directory
     * @param config  metadata handed to every acquisition ({@code Acquisition.config()}), such as a region
     * @param limits  the limits, acquired atomically; at least one
     */
    public record LimitSetProperties(@DefaultValue("in-memory") BackendType backend, String name, String file,
            Map<String, String> config, List<LimitProperties> limits) {

        /** Checks the set on its own; the limits check themselves. */
        public LimitSetProperties {
            config = ordered(config);
            limits = limits == null ? List.of() : List.copyOf(limits);
            if (limits.isEmpty()) {
                throw new IllegalArgumentException("a limit set needs at least one entry under 'limits'");
            }
            if (file != null && backend != BackendType.SHARED_MEMORY) {
                throw new IllegalArgumentException("'file' applies to the shared-memory backend only, not to "
                        + backend.id());
            }
            List<Limit> specs = new ArrayList<>();
            for (LimitProperties limit : limits) {
                Limit spec = limit.toLimit();
                for (Limit earlier : specs) {
                    if (earlier.key().equals(spec.key())) {
                        throw new IllegalArgumentException("duplicate limit key '" + spec.key()
                                + "': keys must be unique in a set");
                    }
                }
                specs.add(spec);
            }
        }

        /** The core limit specifications, in declaration order. */
        public List<Limit> toLimits() {
            return limits.stream().map(LimitProperties::toLimit).toList();
        }
    }

    /**
     * One limit of a set ({@code concurry.limit-sets.<name>.limits[i]}).
     *
     * @param type      {@code rate} (units per window, the default), {@code call} (calls per window,
     *                  key {@code call_count}) or {@code resource} (units held at once)
     * @param key       the name requests use, such as {@code tokens}; not used by {@code call}
     * @param capacity  units per window (rate, call) or held at once (resource, a whole number)
     * @param window    rate and call only: the window, such as {@code 1m} or {@code 500ms}
     * @param algorithm rate and call only: {@code sliding-window} (the default), {@code token-bucket},
     *                  {@code gcra}, {@code leaky-bucket} or {@code fixed-window}
     */
    public record LimitProperties(@DefaultValue("rate") LimitType type, String key, Double capacity, Duration window,
            RateAlgorithm algorithm) {

        /** Builds the limit once, so that a bad value fails the start with the core's own message. */
        public LimitProperties {
            toLimit(type, key, capacity, window, algorithm);
        }

        /** The core limit specification. */
        public Limit toLimit() {
            return toLimit(type, key, capacity, window, algorithm);
        }

        private static Limit toLimit(LimitType type, String key, Double capacity, Duration window,
                RateAlgorithm algorithm) {
            String what = (key != null ? "'" + key + "'" : "a " + type.id() + " limit");
            if (capacity == null) {
                throw new IllegalArgumentException(what + " needs a 'capacity'");
            }
            RateAlgorithm chosen = Optional.ofNullable(algorithm).orElse(RateAlgorithm.SLIDING_WINDOW);
            return switch (type) {
                case RATE -> {
                    requireWindow(what, window);
                    yield new RateLimit(key, capacity, window, chosen);
                }
                case CALL -> {
                    if (key != null && !key.equals(CallLimit.KEY)) {
                        throw new IllegalArgumentException("a call limit's key is always '" + CallLimit.KEY
                                + "'; remove 'key: " + key + "' or use type: rate");
                    }
                    requireWindow(what, window);
                    yield new CallLimit(capacity, window, chosen);
                }
                case RESOURCE -> {
                    if (window != null || algorithm != null) {
                        throw new IllegalArgumentException("resource limit " + what
                                + " is held, not counted per window: remove 'window' and 'algorithm'");
                    }
                    yield ResourceLimit.of(key, capacity);
                }
            };
        }

        private static void requireWindow(String what, Duration window) {
            if (window == null) {
                throw new IllegalArgumentException(what + " needs a 'window' such as 1m or 500ms");
            }
        }
    }

    /**
     * One limit pool ({@code concurry.limit-pools.<name>}): acquisitions spread over several sets.
     *
     * @param sets      bean names of the limit sets, declared under {@code concurry.limit-sets} or as
     *                  beans; at least one
     * @param balancing {@code capacity-aware} (the default), {@code round-robin} or {@code random}
     */
    public record LimitPoolProperties(List<String> sets, @DefaultValue("capacity-aware") PoolBalancing balancing) {

        /** Checks that the pool names at least one set. */
        public LimitPoolProperties {
            sets = sets == null ? List.of() : List.copyOf(sets);
            if (sets.isEmpty()) {
                throw new IllegalArgumentException("a limit pool needs at least one entry under 'sets'");
            }
        }
    }

    /**
     * One worker pool ({@code concurry.workers.<name>}), a {@code TaskExecutor} running plain functions.
     * Unset values take the core's defaults.
     *
     * @param mode           {@code sync}, {@code thread}, {@code virtual} or {@code process}
     * @param maxWorkers     number of workers
     * @param loadBalancing  {@code round-robin}, {@code least-active}, {@code least-total} or {@code random}
     * @param limits         bean name of the limit set or pool the workers share
     * @param maxQueuedTasks bound of each worker's queue; unbounded by default
     */
    public record WorkerPoolProperties(Mode mode, Integer maxWorkers, LoadBalancing loadBalancing, String limits,
            Integer maxQueuedTasks) {
    }

    /**
     * Meters ({@code concurry.metrics.*}).
     *
     * @param enabled whether every limit set, limit pool and worker pool bean is bound to the
     *                application's {@code MeterRegistry} (when there is one)
     */
    public record MetricsProperties(@DefaultValue("true") boolean enabled) {
    }

    /**
     * Defaults of the {@link Limited @Limited} annotation ({@code concurry.limited.*}).
     *
     * @param defaultTimeout how long a call waits for its limits when the annotation gives no timeout;
     *                       unset: until granted
     * @param order          the order of the interceptor among other advice; 0 by default, which runs it
     *                       outside {@code @Transactional} and {@code @Cacheable} (both ordered last), so no
     *                       transaction holds a connection while a call waits for its limits
     * @param http429        whether a rejected call in a Spring MVC request answers
     *                       {@code 429 Too Many Requests}
     */
    public record LimitedProperties(Duration defaultTimeout, @DefaultValue("0") int order,
            @DefaultValue("true") boolean http429) {

        /** Checks the default timeout. */
        public LimitedProperties {
            if (defaultTimeout != null && defaultTimeout.isNegative()) {
                throw new IllegalArgumentException("default-timeout must not be negative, got " + defaultTimeout);
            }
        }
    }
}
