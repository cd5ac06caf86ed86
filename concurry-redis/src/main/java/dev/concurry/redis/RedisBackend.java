package dev.concurry.redis;

import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.BackendOptions;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.time.MonotonicClock;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Limit sets shared by every JVM that uses the same Redis (SPEC L18): the seed's distributed mode.
 * One Lua script call evaluates every limit of the set atomically on the server, with the server's
 * clock, and decides every attempt of this JVM that arrived while the previous call was on its way (up
 * to 64, in order: a group commit). All keys of a set share the hash tag {@code {name}}, so sets work
 * on Redis Cluster too.
 *
 * <pre>{@code
 * RedisClient redis = RedisClient.create("redis://10.0.0.5:6379");      // Lettuce
 * LimitSet shared = LimitSet.builder()
 *         .name("openai-tier1")                             // every JVM using this name shares the quota
 *         .add(RateLimit.of("requests", 500, Duration.ofMinutes(1)))
 *         .add(RateLimit.of("tokens", 10_000, Duration.ofMinutes(1)))
 *         .backend(RedisBackend.of(redis))
 *         .build();
 * }</pre>
 *
 * <p>Behaviour worth knowing:
 * <ul>
 *   <li>Waiting is not polling: the script says how long to wait; a release or refund anywhere
 *       publishes on the set's channel and wakes the JVMs whose waiters are next. Waiters are served
 *       first-come first-served per key across every JVM sharing the set (SPEC L12): a refused waiter
 *       takes its place in the set's queue in Redis, placed by when it queued in its JVM, and nobody
 *       overtakes it for the keys it waits on. The place of a waiter whose JVM died lapses 3 s after
 *       its JVM last asked.</li>
 *   <li>Resource permits are leases ({@link Builder#leaseDuration(Duration)}, 30 s by default)
 *       renewed every third of their duration (at most every 10 s) while held. A crashed holder's
 *       permits come back when its lease expires. A permit released after its lease expired is not
 *       given back twice: the release is logged as a warning and counted by {@link #expiredLeases()}.</li>
 *   <li>Every call counts at most once, whatever the network does: Lettuce re-sends commands after
 *       reconnecting, and the script replays its recorded answer instead of running again. An acquire
 *       whose answer was lost (a timeout) is undone as soon as Redis answers again (its caller was told
 *       nothing was taken), and a settlement whose answer was lost is sent again until it is applied,
 *       once.</li>
 *   <li>A Redis restarted without its data forgets who holds permits: a set created while the server
 *       has been up for less than a lease (at most 30 s) grants no permit until then, while the holders
 *       re-assert theirs, so none is granted twice. (Rate limits start again from an empty window.)</li>
 *   <li>Redis unreachable: acquiring throws {@link RedisUnavailableException} (fail closed), or
 *       grants without limits with {@link Builder#failOpen(boolean) failOpen(true)}. Lettuce
 *       reconnects by itself and the script is reloaded if Redis lost it: no restart needed.</li>
 *   <li>The limits are stored with the set; a JVM building the same name with other limits gets an
 *       {@link IllegalStateException}. Idle sets expire from Redis on their own.</li>
 * </ul>
 *
 * <p>Close the backend (after its sets) to close its connections; a Lettuce client you passed stays
 * yours, one it made from a {@link RedisURI} ({@link #builder(RedisURI)}) is shut down with it.
 */
public final class RedisBackend implements LimitBackend, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisBackend.class);

    private final RedisClient client;
    private final RedisClusterClient clusterClient;
    private final String keyPrefix;
    private final Duration lease;
    private final boolean failOpen;
    private final MonotonicClock clock;
    private final boolean serverClock;
    private final Duration commandTimeout;
    private final String target;
    /** Where this backend connects when it was built from addresses (it then owns its client); else null. */
    private final RedisAddress address;
    /** Identifies this backend's leases: unique per JVM and backend. */
    final String ownerId;
    private final AtomicLong expiredLeases = new AtomicLong();
    private final AtomicLong leaseIds = new AtomicLong();
    private final AtomicLong storeIds = new AtomicLong();
    /** The open sets of this backend by notification channel (several sets may share a name). */
    private final Map<String, Set<RedisStore>> byChannel = new ConcurrentHashMap<>();
    private final ReentrantLock connecting = new ReentrantLock();
    private volatile StatefulConnection<String, String> connection;
    private volatile RedisScriptingAsyncCommands<String, String> commands;
    private volatile StatefulRedisPubSubConnection<String, String> pubSub;
    private volatile boolean closed;
    private static final long RECONNECT_PAUSE_NANOS = 1_000_000_000L;
    /** Guarded by {@link #connecting}: the last failed first connection and when it failed. */
    private RuntimeException lastConnectFailure;
    private long lastConnectFailureAt;

    private RedisBackend(Builder b) {
        this.address = b.address;
        if (address == null) {
            this.client = b.client;
            this.clusterClient = b.clusterClient;
        } else if (address.cluster()) {
            this.client = null;
            this.clusterClient = RedisClusterClient.create(address.uris());
        } else {
            this.client = RedisClient.create(address.uris().get(0));
            this.clusterClient = null;
        }
        this.keyPrefix = b.keyPrefix;
        this.lease = b.lease;
        this.failOpen = b.failOpen;
        this.serverClock = b.clock == null;
        this.clock = serverClock ? MonotonicClock.system() : b.clock;
        this.commandTimeout = b.commandTimeout;
        this.target = address != null ? address.toString() : describe(client != null ? client : clusterClient);
        this.ownerId = ManagementFactory.getRuntimeMXBean().getPid() + "-"
                + UUID.randomUUID().toString().substring(0, 8);
    }

    /** A backend on a single Redis server (or a primary with replicas) with default options. */
    public static RedisBackend of(RedisClient client) {
        return builder(client).build();
    }

    /** A backend on a Redis Cluster with default options. */
    public static RedisBackend of(RedisClusterClient client) {
        return builder(client).build();
    }

    /** Options for a backend on a single Redis server. */
    public static Builder builder(RedisClient client) {
        return new Builder(Objects.requireNonNull(client, "client"), null);
    }

    /** Options for a backend on a Redis Cluster. */
    public static Builder builder(RedisClusterClient client) {
        return new Builder(null, Objects.requireNonNull(client, "client"));
    }

    /**
     * Options for a backend on the single Redis server {@code uri}, with a client of its own (closed with
     * the backend). Unlike a backend built around a client, its sets can be re-opened by process workers'
     * child JVMs and cluster members ({@link #portable()}): the address, credentials included, travels to
     * them over the worker's private pipe, never on a command line.
     *
     * <pre>{@code
     * RedisBackend redis = RedisBackend.builder(RedisURI.create("redis://:secret@10.0.0.5:6379")).build();
     * LimitSet shared = LimitSet.builder().name("openai").add(RateLimit.of("tokens", 10_000, Duration.ofMinutes(1)))
     *         .backend(redis).build();
     * try (WorkerPool<Summarizer> pool = Worker.options(Summarizer.class).mode(Mode.PROCESS).maxWorkers(4)
     *         .limits(shared).init(Summarizer::new)) {          // the children count against the same quota
     *     ...
     * }
     * }</pre>
     *
     * @throws IllegalArgumentException for a Redis Sentinel URI (build a client for it instead)
     */
    public static Builder builder(RedisURI uri) {
        return builder(RedisAddress.of(false, List.of(Objects.requireNonNull(uri, "uri"))));
    }

    /**
     * Options for a backend on the Redis Cluster reached through {@code seed} (and more seeds), with a
     * client of its own: as {@link #builder(RedisURI)}, for a cluster.
     */
    public static Builder clusterBuilder(RedisURI seed, RedisURI... moreSeeds) {
        List<RedisURI> seeds = new ArrayList<>();
        seeds.add(Objects.requireNonNull(seed, "seed"));
        for (RedisURI more : moreSeeds) {
            seeds.add(Objects.requireNonNull(more, "moreSeeds contains null"));
        }
        return builder(RedisAddress.of(true, seeds));
    }

    static Builder builder(RedisAddress address) {
        Builder builder = new Builder(null, null);
        builder.address = address;
        return builder;
    }

    /**
     * A serializable backend reaching the same sets from another process, when this backend was built
     * from addresses ({@link #builder(RedisURI)}) and reads the server's clock; empty for a backend built
     * around a client object (which cannot travel) or on a test clock.
     */
    @Override
    public Optional<LimitBackend> portable() {
        if (address == null || !serverClock) {
            return Optional.empty();
        }
        return Optional.of(new PortableRedisBackend(address, keyPrefix, lease, failOpen, commandTimeout));
    }

    @Override
    public String name() {
        return "redis";
    }

    @Override
    public boolean crossProcess() {
        return true;
    }

    /**
     * Opens the store of a set and checks that its limits match what Redis already holds under its name.
     *
     * @throws IllegalStateException     if Redis holds the name with other limits, refuses the credentials,
     *                                   or this backend is closed
     * @throws RedisUnavailableException if Redis cannot be reached (unless fail-open)
     */
    @Override
    public LimitStore open(LimitSetDefinition definition) {
        if (closed) {
            throw closedException();
        }
        RedisStore store = new RedisStore(definition, this);
        try {
            store.init();
        } catch (RedisUnavailableException e) {
            if (!failOpen) {
                throw e;
            }
            log.warn("limit set '{}' created fail-open: {}", definition.name(), e.getMessage());
        }
        boolean first = byChannel.computeIfAbsent(store.channel(), c -> ConcurrentHashMap.newKeySet()).isEmpty();
        byChannel.get(store.channel()).add(store);
        if (first) {
            subscribe(store.channel());
        }
        return store;
    }

    /** Permits released after their lease had expired (their holder stalled longer than the lease). */
    public long expiredLeases() {
        return expiredLeases.get();
    }

    /**
     * Closes this backend's connections, and its client if it made one ({@link #builder(RedisURI)}; a
     * client passed in stays open). Sets of this backend stop working.
     */
    @Override
    public void close() {
        boolean wasClosed;
        connecting.lock();
        try {
            wasClosed = closed;
            closed = true;
            if (pubSub != null) {
                pubSub.closeAsync();
            }
            if (connection != null) {
                connection.closeAsync();
            }
        } finally {
            connecting.unlock();
        }
        if (address != null && !wasClosed) {            // built from addresses: the client is ours
            if (client != null) {
                client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            } else {
                clusterClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            }
        }
    }

    @Override
    public String toString() {
        return "RedisBackend[" + target + ", prefix=" + keyPrefix + ", lease=" + lease
                + (failOpen ? ", fail-open" : "") + (serverClock ? "" : ", clock=" + clock) + "]";
    }

    // ---- for the sets ----------------------------------------------------------------------------

    String keyPrefix() {
        return keyPrefix;
    }

    Duration lease() {
        return lease;
    }

    boolean failOpen() {
        return failOpen;
    }

    MonotonicClock clock() {
        return clock;
    }

    /** Whether time comes from a test clock (passed to the script) rather than the server. */
    boolean testClock() {
        return !serverClock;
    }

    String target() {
        return target;
    }

    /** The script's time argument: the server's clock, or the test clock's reading. */
    String timeArgument() {
        return serverClock ? "" : Long.toString(clock.nanoTime());
    }

    /** A new store's identity in its set (its recorded calls, its waiters' tickets): unique per JVM and store. */
    String newOwnerId() {
        return ownerId + "." + storeIds.incrementAndGet();
    }

    String newLeaseId() {
        return ownerId + ":" + leaseIds.incrementAndGet();
    }

    void leaseExpired() {
        expiredLeases.incrementAndGet();
    }

    void forget(RedisStore store) {
        boolean last = byChannel.computeIfPresent(store.channel(), (channel, stores) -> {
            stores.remove(store);
            return stores.isEmpty() ? null : stores;
        }) == null;
        StatefulRedisPubSubConnection<String, String> p = pubSub;
        if (last && p != null && p.isOpen()) {
            p.async().unsubscribe(store.channel());
        }
    }

    /**
     * Runs the script, one round trip, without waiting; fails fast with {@link RedisUnavailableException}
     * when disconnected, and with one when Redis does not answer within the command timeout (the command
     * is then cancelled, so that Lettuce does not send it again after reconnecting; the store undoes or
     * repeats a call whose answer it did not get, the script applying each at most once).
     */
    <T> CompletableFuture<T> evalAsync(LimitScript script, String setName, ScriptOutputType type, String... args) {
        ScriptCall<T> call = new ScriptCall<>(commands(setName), script, type, args);
        long timeout = TimeUnit.NANOSECONDS.convert(commandTimeout);       // saturates: a timeout of centuries
        if (timeout == Long.MAX_VALUE) {
            return call.result;
        }
        return call.result.orTimeout(timeout, TimeUnit.NANOSECONDS)
                .exceptionallyCompose(failure -> {
                    if (failure instanceof TimeoutException) {
                        call.cancel();
                        return CompletableFuture.failedFuture(timedOut(setName, failure));
                    }
                    return CompletableFuture.failedFuture(failure);
                });
    }

    private RedisUnavailableException timedOut(String setName, Throwable cause) {
        return new RedisUnavailableException("Redis at " + target + " did not answer within " + commandTimeout
                + " (limit set '" + setName + "'): it is unreachable or overloaded", cause);
    }

    /**
     * {@link #evalAsync} and wait, translating failures into clear exceptions. Not interruptible (the
     * wait is bounded by the command timeout): a grant the script made must reach its owner, and the
     * dispatcher serves other threads' waiters too. The interrupt status is kept for the caller.
     */
    <T> T eval(LimitScript script, String setName, ScriptOutputType type, String... args) {
        ScriptCall<T> call = new ScriptCall<>(commands(setName), script, type, args);
        long deadline = System.nanoTime() + TimeUnit.NANOSECONDS.convert(commandTimeout);   // wraps: compared by difference
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return call.result.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } catch (ExecutionException e) {
            throw translate(setName, e.getCause());
        } catch (TimeoutException e) {
            // Lettuce may hold the command until it reconnects: cancelled, it is dropped instead of run late.
            call.cancel();
            throw timedOut(setName, e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    boolean isClosed() {
        return closed;
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("RedisBackend for " + target + " is closed: build sets on an open backend");
    }

    /** One script call: EVALSHA, and EVAL if Redis lost the script (restart, SCRIPT FLUSH). */
    private static final class ScriptCall<T> {
        final CompletableFuture<T> result = new CompletableFuture<>();
        private volatile RedisFuture<T> current;

        ScriptCall(RedisScriptingAsyncCommands<String, String> c, LimitScript script, ScriptOutputType type,
                String[] args) {
            String[] keys = script.keys();
            RedisFuture<T> first = c.evalsha(script.sha(), type, keys, args);
            current = first;
            first.whenComplete((value, failure) -> {
                if (failure == null) {
                    result.complete(value);
                } else if (unwrap(failure) instanceof RedisNoScriptException) {
                    RedisFuture<T> again = c.eval(script.source(), type, keys, args);
                    current = again;
                    again.whenComplete((v, f) -> {
                        if (f == null) {
                            result.complete(v);
                        } else {
                            result.completeExceptionally(unwrap(f));
                        }
                    });
                } else {
                    result.completeExceptionally(unwrap(failure));
                }
            });
        }

        void cancel() {
            current.cancel(true);
        }

        private static Throwable unwrap(Throwable e) {
            return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        }
    }

    RuntimeException translate(String setName, Throwable e) {
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof IllegalStateException closedOrRefused) {
            return closedOrRefused;
        }
        if (closed) {
            return closedException();      // the connection failed because this backend was closed
        }
        if (e instanceof RedisUnavailableException u) {
            return u;
        }
        String message = String.valueOf(e.getMessage());
        if (e instanceof RedisCommandExecutionException) {
            if (message.startsWith("CONCURRY_SPEC_MISMATCH") && !message.startsWith("CONCURRY_SPEC_MISMATCH concurry"
                    + LimitScript.LAYOUT + "#")) {
                return new IllegalStateException("limit set '" + setName + "' exists in Redis at " + target + " in the"
                        + " layout of another version of Concurry (stored signature: " + message.substring(23)
                        + "); let"
                        + " it expire (it does once idle), delete it, or use another name", e);
            }
            if (message.startsWith("CONCURRY_SPEC_MISMATCH")) {
                return new IllegalStateException("limit set '" + setName + "' already exists in Redis at " + target
                        + " with other limits (stored signature: " + message.substring(23) + "); every JVM sharing a"
                        + " set name must declare the same limits: use another name or the same limits", e);
            }
            if (isAuthFailure(message)) {
                return new IllegalStateException("Redis at " + target + " refused the credentials: " + message, e);
            }
            return new IllegalStateException("the limit script failed on Redis at " + target + " for set '" + setName
                    + "': " + message, e);
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (isAuthFailure(String.valueOf(c.getMessage()))) {
                return new IllegalStateException("Redis at " + target + " refused the credentials: " + c.getMessage(),
                        e);
            }
        }
        return new RedisUnavailableException("Redis at " + target + " is unreachable (limit set '" + setName + "'): "
                + message, e);
    }

    private static boolean isAuthFailure(String message) {
        return message.contains("WRONGPASS") || message.contains("AUTH") || message.contains("NOPERM");
    }

    private RedisScriptingAsyncCommands<String, String> commands(String setName) {
        if (closed) {
            throw closedException();
        }
        StatefulConnection<String, String> c = connection;
        if (c != null) {
            if (!c.isOpen()) {
                // Lettuce is reconnecting; fail now rather than queue a command that would run later.
                throw new RedisUnavailableException("Redis at " + target + " is unreachable (limit set '" + setName
                        + "'): the connection is lost and Lettuce is re-establishing it", null);
            }
            return commands;
        }
        connect(setName);
        return commands;
    }

    private void connect(String setName) {
        connecting.lock();
        try {
            if (closed) {
                throw closedException();
            }
            if (connection != null) {
                return;
            }
            RuntimeException recent = lastConnectFailure;
            if (recent != null && System.nanoTime() - lastConnectFailureAt < RECONNECT_PAUSE_NANOS) {
                throw recent;   // do not make every caller wait for a connect timeout while Redis is down
            }
            try {
                if (client != null) {
                    var c = client.connect();
                    commands = c.async();
                    connection = c;
                } else {
                    var c = clusterClient.connect();
                    commands = c.async();
                    connection = c;
                }
            } catch (RuntimeException e) {
                RuntimeException failure = translate(setName, e);
                lastConnectFailure = failure;
                lastConnectFailureAt = System.nanoTime();
                throw failure;
            }
            lastConnectFailure = null;
            try {
                StatefulRedisPubSubConnection<String, String> p = client != null
                        ? client.connectPubSub()
                        : clusterClient.connectPubSub();
                p.addListener(new RedisPubSubAdapter<>() {
                    @Override
                    public void message(String channel, String message) {
                        byChannel.getOrDefault(channel, Set.of()).forEach(store -> store.onNotification(message));
                    }
                });
                pubSub = p;
                if (!byChannel.isEmpty()) {
                    p.async().subscribe(byChannel.keySet().toArray(String[]::new));
                }
            } catch (RuntimeException e) {
                // Waiters still wake at the times the script computes and at lease expiries.
                log.warn("could not subscribe to release notifications on Redis at {}: {}", target, e.toString());
            }
        } finally {
            connecting.unlock();
        }
    }

    private void subscribe(String channel) {
        StatefulRedisPubSubConnection<String, String> p = pubSub;
        if (p != null) {
            p.async().subscribe(channel);
        }
    }

    /** The URI the client was created with, for messages (Lettuce has no public getter). */
    private static String describe(Object client) {
        for (String field : new String[] {"redisURI", "initialUris"}) {
            try {
                var f = client.getClass().getDeclaredField(field);
                f.setAccessible(true);
                Object value = f.get(client);
                if (value != null) {
                    return String.valueOf(value);
                }
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // fall through: a less precise description
            }
        }
        return client.getClass().getSimpleName();
    }

    /**
     * Options of a {@link RedisBackend}.
     *
     * <pre>{@code
     * RedisBackend backend = RedisBackend.builder(redis)
     *         .keyPrefix("myapp:")
     *         .leaseDuration(Duration.ofSeconds(10))
     *         .build();
     * }</pre>
     */
    public static final class Builder {
        private final RedisClient client;
        private final RedisClusterClient clusterClient;
        private RedisAddress address;
        private String keyPrefix = "concurry:";
        private Duration lease = Duration.ofSeconds(30);
        private boolean failOpen;
        private MonotonicClock clock;
        private Duration commandTimeout = Duration.ofSeconds(5);

        private Builder(RedisClient client, RedisClusterClient clusterClient) {
            this.client = client;
            this.clusterClient = clusterClient;
        }

        /** Prepended to every key and channel ({@code "concurry:"} by default). */
        public Builder keyPrefix(String prefix) {
            this.keyPrefix = Objects.requireNonNull(prefix, "prefix");
            return this;
        }

        /**
         * How long a resource permit outlives its holder if the holder stops renewing it (crash, long
         * pause): 30 s by default, at least 100 ms, at most {@code Long.MAX_VALUE} nanoseconds (about 292
         * years). Held permits are renewed every third of it, at most every 10 s. After Redis restarts
         * without its data, permits are withheld for the lease (at most 30 s) since the server started.
         */
        public Builder leaseDuration(Duration lease) {
            this.lease = BackendOptions.leaseDuration(lease);
            return this;
        }

        /**
         * When Redis is unreachable: {@code false} (default) throws {@link RedisUnavailableException};
         * {@code true} grants without limits and logs a warning.
         */
        public Builder failOpen(boolean failOpen) {
            this.failOpen = failOpen;
            return this;
        }

        /**
         * For tests: time comes from {@code clock} (passed to the script) instead of the Redis server's
         * clock, so that a {@link dev.concurry.time.ManualClock} drives every decision.
         */
        public Builder clock(MonotonicClock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * How long to wait for Redis to answer before {@link RedisUnavailableException}; 5 s by default.
         * Longer than about 292 years counts as forever.
         */
        public Builder commandTimeout(Duration timeout) {
            this.commandTimeout = BackendOptions.commandTimeout(timeout);
            return this;
        }

        /** The backend; connects lazily when its first set is built. */
        public RedisBackend build() {
            return new RedisBackend(this);
        }
    }
}
