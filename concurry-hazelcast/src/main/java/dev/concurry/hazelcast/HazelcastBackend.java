package dev.concurry.hazelcast;

import com.hazelcast.client.HazelcastClientOfflineException;
import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.SplitBrainProtectionConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceNotActiveException;
import com.hazelcast.core.IndeterminateOperationState;
import com.hazelcast.core.OperationTimeoutException;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import com.hazelcast.spi.exception.RetryableException;
import com.hazelcast.spi.impl.operationexecutor.OperationHostileThread;
import com.hazelcast.spi.exception.TargetDisconnectedException;
import com.hazelcast.splitbrainprotection.SplitBrainProtectionException;
import com.hazelcast.topic.ITopic;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitException;
import dev.concurry.limit.spi.BackendOptions;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.time.MonotonicClock;
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
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Limit sets shared by every member and client of a Hazelcast cluster (SPEC L18b): the seed's Ray mode
 * for limits, and what {@link dev.concurry.worker.Mode#CLUSTER} workers share. A set is one entry of a
 * map ({@value #DEFAULT_MAP} by default), changed atomically on the entry's owner by an entry processor
 * that runs core's own algorithms: the same decisions as in memory, one network round trip per batch of
 * attempts.
 *
 * <pre>{@code
 * HazelcastInstance hz = Hazelcast.newHazelcastInstance(HazelcastBackend.configure(config));   // or a client
 * LimitSet shared = LimitSet.builder()
 *         .name("openai-tier1")                             // every member and client using this name shares it
 *         .add(RateLimit.of("requests", 500, Duration.ofMinutes(1)))
 *         .add(RateLimit.of("tokens", 10_000, Duration.ofMinutes(1)))
 *         .backend(HazelcastBackend.of(hz))
 *         .build();
 * }</pre>
 *
 * <p>Behaviour worth knowing:
 * <ul>
 *   <li><b>Time</b> is the wall clock of the member owning the set's entry, in nanoseconds, and a set's time
 *       never goes backwards, so a new owner after a failover continues where the old one stopped. Keep the
 *       members' clocks synchronized (NTP): a member far off the cluster's time is logged as a warning.</li>
 *   <li><b>Backups</b>: the owner sends its backup exactly the change it applied (never a re-run); a call
 *       that changed nothing (a refusal) sends no backup.</li>
 *   <li><b>Waiting</b> is not polling: the owner says how long to wait; a release or refund anywhere is
 *       published on the backend's topic and wakes waiters in every member and client at once.</li>
 *   <li><b>Resource permits</b> are leases ({@link Builder#leaseDuration(Duration)}, 30 s by default) renewed
 *       every third of their duration while held. The permits of a member that leaves the cluster come back
 *       at once; those of a client that vanishes, when its leases expire.</li>
 *   <li><b>Unknown outcomes</b> (the owner died mid-call, a timeout): the call is repeated, under the same
 *       ids, until the command timeout ({@link Builder#commandTimeout(Duration)}, 5 s by default); the owner
 *       undoes what a repeated call granted the first time before deciding it again, so nothing is granted
 *       twice, and gives back a call whose caller gave up. Then {@link ClusterUnavailableException},
 *       nothing taken.</li>
 *   <li><b>Fail closed</b>: with {@link #configure(Config)} the map has split-brain protection, so a
 *       minority side of a split cluster refuses ({@link ClusterUnavailableException}) instead of granting
 *       what the other side also grants; it decides again once the cluster heals.</li>
 *   <li>The limits are stored with the set; a JVM building the same name with other limits gets an
 *       {@link IllegalStateException} naming both. Sets stay in the map until it is cleared.</li>
 * </ul>
 *
 * <p>The members run the processors, so their class paths must hold concurry-core and concurry-hazelcast
 * (always true for embedded members). Close the backend (after its sets) to remove its listener; the
 * Hazelcast instance stays yours.
 */
public final class HazelcastBackend implements LimitBackend, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HazelcastBackend.class);
    /** The map holding the sets unless {@link Builder#mapName(String)} says otherwise. */
    public static final String DEFAULT_MAP = "concurry-limits";
    /** The split-brain protection {@link #configure(Config)} adds for the limits map. */
    public static final String SPLIT_BRAIN_PROTECTION = "concurry-limits-majority";
    private static final long RETRY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final long MAX_RETRY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final Executor HANDOFF = Executors.newVirtualThreadPerTaskExecutor();

    private final HazelcastInstance hz;
    private final String mapName;
    private final IMap<String, StoredSet> map;
    private final ITopic<String> released;
    private final Duration lease;
    private final long leaseNanos;
    private final MonotonicClock clock;
    private final boolean testClock;
    private final Duration commandTimeout;
    private final long commandTimeoutNanos;
    private final boolean removeSetsOnClose;
    /** Whether the instance is this backend's own (a client a portable form started), shut down with it. */
    private final boolean ownsInstance;
    private final String target;
    private final AtomicLong expiredLeases = new AtomicLong();
    /** The open sets of this backend by name (several sets may share a name). */
    private final Map<String, Set<HazelcastStore>> byName = new ConcurrentHashMap<>();
    private final UUID releasedListener;
    private volatile boolean closed;

    private HazelcastBackend(Builder b) {
        this.hz = b.hz;
        this.mapName = b.mapName;
        this.lease = b.lease;
        this.leaseNanos = b.lease.toNanos();
        this.testClock = b.clock != null;
        this.clock = testClock ? b.clock : MonotonicClock.system();
        this.commandTimeout = b.commandTimeout;
        this.commandTimeoutNanos = saturatedNanos(b.commandTimeout);
        this.removeSetsOnClose = b.removeSetsOnClose;
        this.ownsInstance = b.ownsInstance;
        this.target = "map '" + mapName + "' of Hazelcast cluster '" + HazelcastCluster.clusterName(hz) + "'";
        Departures.watch(hz, mapName);
        this.map = hz.getMap(mapName);
        this.released = hz.getTopic(releasedTopic(mapName));
        this.releasedListener = released.addMessageListener(message -> byName.getOrDefault(message.getMessageObject(),
                Set.of()).forEach(HazelcastStore::onRemoteRelease));
    }

    /**
     * A backend on the cluster that {@code hz} (a member or a client) belongs to, with default options.
     *
     * <pre>{@code
     * LimitSet db = LimitSet.builder().name("orders-db").add(ResourceLimit.of("db_conn", 5))
     *         .backend(HazelcastBackend.of(hz)).build();
     * }</pre>
     */
    public static HazelcastBackend of(HazelcastInstance hz) {
        return builder(hz).build();
    }

    /**
     * Options for a backend on {@code hz}'s cluster.
     *
     * <pre>{@code
     * HazelcastBackend backend = HazelcastBackend.builder(hz)
     *         .leaseDuration(Duration.ofSeconds(10))
     *         .commandTimeout(Duration.ofSeconds(3))
     *         .build();
     * }</pre>
     */
    public static Builder builder(HazelcastInstance hz) {
        return new Builder(Objects.requireNonNull(hz, "hz"));
    }

    /**
     * Configures a member for limit sets before it starts: the map {@value #DEFAULT_MAP} with one synchronous
     * backup, values kept as objects (the processors change them in place, without deserializing 12 KB of
     * sliding-window state per call), and split-brain protection {@value #SPLIT_BRAIN_PROTECTION} requiring a
     * majority of the members listed for TCP-IP join (none when the join lists fewer than two members, or
     * uses discovery: then call {@link #configure(Config, int)}). Returns {@code config}. Give every member
     * the same configuration; clients need none.
     *
     * <pre>{@code
     * Config config = new Config().setClusterName("prod");
     * config.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true).setMembers(List.of("10.0.0.1", "10.0.0.2", "10.0.0.3"));
     * HazelcastInstance member = Hazelcast.newHazelcastInstance(HazelcastBackend.configure(config));   // majority: 2
     * }</pre>
     */
    public static Config configure(Config config) {
        JoinConfig join = config.getNetworkConfig().getJoin();
        int listed = join.getTcpIpConfig().isEnabled() ? join.getTcpIpConfig().getMembers().size() : 0;
        if (listed < 2) {
            LOG.info("HazelcastBackend.configure: the TCP-IP join lists {} member(s), so the limits map gets no"
                    + " split-brain protection; call configure(config, minimumClusterSize) to require one", listed);
        }
        return configure(config, listed / 2 + 1);
    }

    /**
     * {@link #configure(Config)} with split-brain protection requiring {@code minimumClusterSize} members
     * (1: none). Below it, calls on a set throw {@link ClusterUnavailableException} (fail closed). A majority
     * of the cluster's size ({@code n / 2 + 1}) keeps at most one side of a split deciding.
     *
     * <pre>{@code
     * HazelcastInstance member = Hazelcast.newHazelcastInstance(HazelcastBackend.configure(config, 3));  // 5 members
     * }</pre>
     */
    public static Config configure(Config config, int minimumClusterSize) {
        Objects.requireNonNull(config, "config");
        if (minimumClusterSize < 1) {
            throw new IllegalArgumentException("minimumClusterSize must be at least 1, got: " + minimumClusterSize);
        }
        MapConfig mapConfig = limitsMapConfig(DEFAULT_MAP);
        if (minimumClusterSize > 1) {
            config.addSplitBrainProtectionConfig(new SplitBrainProtectionConfig(SPLIT_BRAIN_PROTECTION, true,
                    minimumClusterSize));
            mapConfig.setSplitBrainProtectionName(SPLIT_BRAIN_PROTECTION);
        }
        config.addMapConfig(mapConfig);
        return config;
    }

    private static MapConfig limitsMapConfig(String name) {
        return new MapConfig(name).setBackupCount(1).setAsyncBackupCount(0).setInMemoryFormat(InMemoryFormat.OBJECT);
    }

    @Override
    public String name() {
        return "hazelcast";
    }

    @Override
    public boolean crossProcess() {
        return true;
    }

    /**
     * A serializable backend reaching the same sets from another process, such as a process worker's child
     * JVM (SPEC L20): there it connects a Hazelcast client of its own to this cluster (its name and the
     * addresses of its members now), with this backend's map, lease and command timeout. Empty on a test
     * clock, which cannot travel.
     *
     * <pre>{@code
     * LimitSet gpus = LimitSet.builder().name("gpus").add(ResourceLimit.of("gpu", 4))
     *         .backend(HazelcastBackend.of(hz)).build();
     * Worker.options(Trainer.class).mode(Mode.PROCESS).maxWorkers(8).limits(gpus).init(Trainer::new);
     * }</pre>
     */
    @Override
    public Optional<LimitBackend> portable() {
        if (testClock) {
            return Optional.empty();
        }
        List<String> members = new ArrayList<>();
        for (Member member : hz.getCluster().getMembers()) {
            members.add(member.getAddress().getHost() + ":" + member.getAddress().getPort());
        }
        return Optional.of(new PortableHazelcastBackend(HazelcastCluster.clusterName(hz), members, mapName, lease,
                commandTimeout));
    }

    /**
     * Opens the store of a set: creates its entry, or checks that the one in the map has the same limits.
     *
     * @throws IllegalStateException       if the map holds the name with other limits, or this backend is closed
     * @throws ClusterUnavailableException if the cluster cannot decide within the command timeout
     */
    @Override
    public LimitStore open(LimitSetDefinition definition) {
        if (closed) {
            throw closedException();
        }
        HazelcastStore store = new HazelcastStore(definition, this);
        try {
            store.open().join();
        } catch (CompletionException e) {
            throw translate(definition.name(), e);
        }
        byName.computeIfAbsent(definition.name(), name -> ConcurrentHashMap.newKeySet()).add(store);
        return store;
    }

    /** Permits released after their lease had expired (their holder stalled, or its member was removed). */
    public long expiredLeases() {
        return expiredLeases.get();
    }

    /**
     * Removes this backend's listener of releases and refuses new sets. Sets already built keep working while
     * the Hazelcast instance runs (an acquisition closed later still gives its permits back), but no longer
     * hear of releases elsewhere; close them first. The Hazelcast instance stays open.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            released.removeMessageListener(releasedListener);
        } catch (RuntimeException e) {
            LOG.debug("removing the release listener of {}: {}", target, e.toString());
        }
        if (ownsInstance) {
            hz.shutdown();
        }
    }

    @Override
    public String toString() {
        return "HazelcastBackend[" + target + ", lease=" + lease + ", commandTimeout=" + commandTimeout
                + (testClock ? ", clock=" + clock : "") + "]";
    }

    // ---- for the stores --------------------------------------------------------------------------

    MonotonicClock clock() {
        return clock;
    }

    boolean testClock() {
        return testClock;
    }

    /** The clock reading to send: the test clock's, or {@link SetProcessors#CLUSTER_TIME} (the owner's). */
    long reading() {
        return testClock ? clock.nanoTime() : SetProcessors.OWNER_TIME;
    }

    Duration lease() {
        return lease;
    }

    String mapName() {
        return mapName;
    }

    Duration commandTimeout() {
        return commandTimeout;
    }

    /** The instance this backend reaches the cluster through. */
    HazelcastInstance instance() {
        return hz;
    }

    long leaseNanos() {
        return leaseNanos;
    }

    /** How long a call may still be repeated (or given back) after it was first sent. */
    long keepNanos() {
        long twice = commandTimeoutNanos > Long.MAX_VALUE / 4 ? Long.MAX_VALUE / 2 : 2 * commandTimeoutNanos;
        return leaseNanos > Long.MAX_VALUE / 2 ? Long.MAX_VALUE : twice + leaseNanos;
    }

    /** Who holds the permits granted here: this member's or client's id. */
    UUID holder() {
        return hz.getLocalEndpoint().getUuid();
    }

    String target() {
        return target;
    }

    /** Whether calls can still be made: the Hazelcast instance is running. */
    boolean isUsable() {
        return hz.getLifecycleService().isRunning();
    }

    void leaseExpired() {
        expiredLeases.incrementAndGet();
    }

    void forget(HazelcastStore store) {
        byName.computeIfPresent(store.name(), (name, stores) -> {
            stores.remove(store);
            return stores.isEmpty() ? null : stores;
        });
        if (removeSetsOnClose && !closed) {
            map.removeAsync(store.name());
        }
    }

    /** Tells every member and client that units of set {@code name} came back. */
    void publishReleased(String name) {
        try {
            released.publishAsync(name);
        } catch (RuntimeException e) {
            LOG.debug("could not announce a release in limit set '{}': {}", name, e.toString());
        }
    }

    /**
     * Runs a processor on set {@code setName}'s owner, one round trip, without waiting. A failure whose
     * outcome is unknown (the owner left or did not answer) is repeated with the same processor until the
     * command timeout; the processors make a repeat harmless.
     */
    <R> CompletableFuture<R> invoke(String setName, String what,
            Supplier<EntryProcessor<String, StoredSet, R>> processor) {
        long deadline = commandTimeoutNanos == Long.MAX_VALUE
                ? Long.MAX_VALUE
                : System.nanoTime() + commandTimeoutNanos;
        if (testClock && !(Thread.currentThread() instanceof OperationHostileThread)) {
            return invokeHere(setName, what, processor, deadline);
        }
        CompletableFuture<R> result = new CompletableFuture<>();
        attempt(setName, what, processor, deadline, 0, result);
        return result;
    }

    /**
     * {@link #invoke} on this thread, for a test clock: the engine then waits for every call on the thread
     * that made it (so that moving the clock is exact), and {@code executeOnKey} returns sooner than a
     * future's callback reaches a waiting thread (measured: 20,000 calls in 3 s against 8 s, two members in
     * one busy JVM). The same processors and repeats as {@link #attempt}; a call that hangs is bounded by
     * Hazelcast's own invocation timeout rather than the command timeout.
     */
    private <R> CompletableFuture<R> invokeHere(String setName, String what,
            Supplier<EntryProcessor<String, StoredSet, R>> processor, long deadline) {
        for (int attempts = 0;; attempts++) {
            Throwable cause;
            try {
                return CompletableFuture.completedFuture(map.executeOnKey(setName, processor.get()));
            } catch (RuntimeException e) {
                cause = unwrap(e);
            }
            if (!outcomeUnknown(cause)) {
                return CompletableFuture.failedFuture(cause);
            }
            long pause = Math.min(MAX_RETRY_PAUSE_NANOS, RETRY_PAUSE_NANOS << Math.min(attempts, 5));
            if (deadline != Long.MAX_VALUE && deadline - System.nanoTime() <= pause) {
                return CompletableFuture.failedFuture(timedOut(setName, cause));
            }
            LOG.debug("{} of limit set '{}' on {}: outcome unknown ({}), repeating", what, setName, target,
                    cause.toString());
            LockSupport.parkNanos(pause);
        }
    }

    private <R> void attempt(String setName, String what, Supplier<EntryProcessor<String, StoredSet, R>> processor,
            long deadline, int attempts, CompletableFuture<R> result) {
        if (Thread.currentThread() instanceof OperationHostileThread) {
            // A reply's callbacks run on the member's response or partition thread (see below), where Hazelcast
            // forbids starting a call: the engine's next batch is sent from another thread.
            HANDOFF.execute(() -> attempt(setName, what, processor, deadline, attempts, result));
            return;
        }
        CompletableFuture<R> call = new CompletableFuture<>();
        try {
            // On the thread that receives the reply: Hazelcast runs plain whenComplete callbacks on another
            // executor, a thread hop that costs more than the round trip on a busy machine.
            map.submitToKey(setName, processor.get()).whenCompleteAsync((value, failure) -> {
                if (failure == null) {
                    call.complete(value);
                } else {
                    call.completeExceptionally(failure);
                }
            }, Runnable::run);
        } catch (RuntimeException e) {
            call.completeExceptionally(e);
        }
        if (deadline != Long.MAX_VALUE) {
            Deadlines.watch(call, deadline);
        }
        call.whenComplete((value, failure) -> {
            if (failure == null) {
                result.complete(value);
                return;
            }
            Throwable cause = unwrap(failure);
            if (!outcomeUnknown(cause)) {
                result.completeExceptionally(cause);
                return;
            }
            long pause = Math.min(MAX_RETRY_PAUSE_NANOS, RETRY_PAUSE_NANOS << Math.min(attempts, 5));
            if (deadline != Long.MAX_VALUE && deadline - System.nanoTime() <= pause) {
                result.completeExceptionally(timedOut(setName, cause));
                return;
            }
            LOG.debug("{} of limit set '{}' on {}: outcome unknown ({}), repeating", what, setName, target,
                    cause.toString());
            CompletableFuture.delayedExecutor(pause, TimeUnit.NANOSECONDS)
                    .execute(() -> attempt(setName, what, processor, deadline, attempts + 1, result));
        });
    }

    /**
     * Makes {@code call} (a whole {@link #invoke}) again, with pauses, while it fails with
     * {@link ClusterUnavailableException} and {@code deadlineNanos} has not passed: for what must reach the
     * set eventually but nobody waits for (a settlement, a give-back).
     */
    <R> CompletableFuture<R> repeatUntil(long deadlineNanos, Supplier<CompletableFuture<R>> call) {
        CompletableFuture<R> result = new CompletableFuture<>();
        repeat(deadlineNanos, call, 0, result);
        return result;
    }

    private <R> void repeat(long deadline, Supplier<CompletableFuture<R>> call, int attempts,
            CompletableFuture<R> result) {
        call.get().whenComplete((value, failure) -> {
            if (failure == null) {
                result.complete(value);
                return;
            }
            long pause = Math.min(TimeUnit.SECONDS.toNanos(1), MAX_RETRY_PAUSE_NANOS << Math.min(attempts, 2));
            if (translate("", failure) instanceof ClusterUnavailableException && isUsable()
                    && deadline - System.nanoTime() > pause) {
                CompletableFuture.delayedExecutor(pause, TimeUnit.NANOSECONDS)
                        .execute(() -> repeat(deadline, call, attempts + 1, result));
            } else {
                result.completeExceptionally(failure);
            }
        });
    }

    /**
     * Whether {@code e} leaves the call's outcome unknown, or says the call was not made yet and may be made
     * again: the owner left or disconnected, the call timed out, the client is reconnecting, the partition
     * is moving. Repeated until the command timeout.
     */
    private boolean outcomeUnknown(Throwable e) {
        if (e instanceof HazelcastInstanceNotActiveException) {
            return hz.getLifecycleService().isRunning();   // the other side shut down; ours is fine
        }
        return e instanceof TargetDisconnectedException || e instanceof RetryableException
                || e instanceof OperationTimeoutException || e instanceof IndeterminateOperationState
                || e instanceof HazelcastClientOfflineException || e instanceof TimeoutException;
    }

    private ClusterUnavailableException timedOut(String setName, Throwable cause) {
        return new ClusterUnavailableException("the " + target + " did not decide limit set '" + setName + "' within "
                + commandTimeout + " (last: " + cause + "): its members are unreachable, or the set's owner left and"
                + " no member took over in time; nothing was taken, retry later", cause);
    }

    /** The exception a caller sees for {@code failure}: clear, and a {@link LimitException} unless a misuse. */
    RuntimeException translate(String setName, Throwable failure) {
        Throwable e = unwrap(failure);
        if (e instanceof SplitBrainProtectionException) {
            return new ClusterUnavailableException("the " + target + " cannot decide limit set '" + setName
                    + "': this side of the cluster has fewer members than split-brain protection '"
                    + SPLIT_BRAIN_PROTECTION + "' requires (fail closed); nothing was taken, retry once the members"
                    + " rejoin (" + e.getMessage() + ")", e);
        }
        if (!(e instanceof LimitException) && !hz.getLifecycleService().isRunning()) {
            return new IllegalStateException("the Hazelcast instance of HazelcastBackend " + target + " is shut down:"
                    + " limit set '" + setName + "' cannot be decided", e);
        }
        if (e instanceof LimitException limit) {
            return limit;
        }
        if (e instanceof IllegalStateException misuse) {
            return misuse;
        }
        if (outcomeUnknown(e)) {
            return timedOut(setName, e);
        }
        return new LimitException("the limit processor failed on the " + target + " for set '" + setName + "': " + e,
                e);
    }

    private static Throwable unwrap(Throwable e) {
        while ((e instanceof CompletionException || e.getClass() == ExecutionException.class) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    private IllegalStateException closedException() {
        return new IllegalStateException(
                "HazelcastBackend for " + target + " is closed: build sets on an open backend");
    }

    private static String releasedTopic(String mapName) {
        return mapName + "-released";
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /**
     * Once per instance and map: gives back the permits of members that leave the cluster (every instance
     * does it; releasing is idempotent) and, on an instance whose configuration does not cover the limits
     * map, adds a dynamic one (backups and in-memory format; split-brain protection cannot be added so).
     */
    private static final class Departures implements MembershipListener {
        private final HazelcastInstance hz;
        private final String mapName;

        private Departures(HazelcastInstance hz, String mapName) {
            this.hz = hz;
            this.mapName = mapName;
        }

        static void watch(HazelcastInstance hz, String mapName) {
            hz.getUserContext().computeIfAbsent(Departures.class.getName() + ":" + mapName, key -> {
                ensureMapConfig(hz, mapName);
                Departures departures = new Departures(hz, mapName);
                hz.getCluster().addMembershipListener(departures);
                return departures;
            });
        }

        private static void ensureMapConfig(HazelcastInstance hz, String mapName) {
            try {
                if (hz.getLocalEndpoint() instanceof Member && hz.getConfig().getMapConfigOrNull(mapName) != null) {
                    return;
                }
                hz.getConfig().addMapConfig(limitsMapConfig(mapName));
                LOG.info("limits map '{}' has no static configuration: added one at run time (1 backup, OBJECT format)."
                        + " For split-brain protection (fail closed when the cluster splits), give every member"
                        + " HazelcastBackend.configure(config) before it starts", mapName);
            } catch (RuntimeException e) {
                LOG.debug("limits map '{}' keeps the cluster's configuration: {}", mapName, e.toString());
            }
        }

        @Override
        public void memberAdded(MembershipEvent event) {
        }

        @Override
        public void memberRemoved(MembershipEvent event) {
            UUID gone = event.getMember().getUuid();
            Thread.ofVirtual().name("concurry-hazelcast-departure")
                    .start(() -> release(gone, event.getMember().getAddress()));
        }

        private void release(UUID gone, Object address) {
            try {
                IMap<String, StoredSet> map = hz.getMap(mapName);
                ITopic<String> topic = hz.getTopic(releasedTopic(mapName));
                for (String set : map.keySet()) {
                    int released = map.executeOnKey(set, new SetProcessors.ReleaseHolder(gone));
                    if (released > 0) {
                        LOG.info("gave back the permits of {} lease(s) in limit set '{}': their holder, member {},"
                                + " left the cluster", released, set, address);
                        topic.publishAsync(set);
                    }
                }
            } catch (RuntimeException e) {
                LOG.warn("could not give back the permits held by member {}, which left the cluster (they come back"
                        + " when their leases expire): {}", address, e.toString());
            }
        }
    }

    /**
     * Options of a {@link HazelcastBackend}.
     *
     * <pre>{@code
     * HazelcastBackend backend = HazelcastBackend.builder(hz)
     *         .mapName("myapp-limits")
     *         .leaseDuration(Duration.ofSeconds(10))
     *         .build();
     * }</pre>
     */
    public static final class Builder {
        private final HazelcastInstance hz;
        private String mapName = DEFAULT_MAP;
        private Duration lease = Duration.ofSeconds(30);
        private MonotonicClock clock;
        private Duration commandTimeout = Duration.ofSeconds(5);
        private boolean removeSetsOnClose;
        private boolean ownsInstance;

        private Builder(HazelcastInstance hz) {
            this.hz = hz;
        }

        /**
         * The map holding the sets ({@value #DEFAULT_MAP} by default). {@link HazelcastBackend#configure(Config)}
         * configures the default name only: give another name a {@code MapConfig} like it.
         */
        public Builder mapName(String mapName) {
            Objects.requireNonNull(mapName, "mapName");
            if (mapName.isBlank()) {
                throw new IllegalArgumentException("mapName must not be blank");
            }
            this.mapName = mapName;
            return this;
        }

        /**
         * How long a resource permit outlives its holder if the holder stops renewing it (a client that
         * crashed or lost the cluster, a long pause): 30 s by default, at least 100 ms. Held permits are
         * renewed every third of it. A member's permits come back as soon as it leaves the cluster.
         */
        public Builder leaseDuration(Duration lease) {
            this.lease = BackendOptions.leaseDuration(lease);
            return this;
        }

        /**
         * For tests: time comes from {@code clock} (its reading is sent with each call) instead of the owner's
         * wall clock, so that a {@link dev.concurry.time.ManualClock} drives every decision. Calls are then
         * made on the calling thread, as the engine waits for them there anyway; one that hangs is bounded by
         * Hazelcast's invocation timeout rather than {@link #commandTimeout(Duration)}.
         */
        public Builder clock(MonotonicClock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * How long a call may take, repeats after unknown outcomes included, before
         * {@link ClusterUnavailableException}: 5 s by default. Make it longer than the cluster's failure
         * detection (a vanished member is noticed after {@code hazelcast.max.no.heartbeat.seconds}) to ride out
         * the loss of a set's owner without errors. Longer than about 292 years counts as forever.
         */
        public Builder commandTimeout(Duration timeout) {
            this.commandTimeout = BackendOptions.commandTimeout(timeout);
            return this;
        }

        /** Sets built on this backend are removed from the map when closed (a pool's private set). */
        Builder removeSetsOnClose() {
            this.removeSetsOnClose = true;
            return this;
        }

        /** The instance is the backend's own (a client started for it): shut down when the backend closes. */
        Builder shutdownInstanceOnClose() {
            this.ownsInstance = true;
            return this;
        }

        /** The backend; registers its listeners on the instance. */
        public HazelcastBackend build() {
            return new HazelcastBackend(this);
        }
    }
}
