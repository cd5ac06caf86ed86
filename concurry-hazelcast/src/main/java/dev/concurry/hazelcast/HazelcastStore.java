package dev.concurry.hazelcast;

import dev.concurry.hazelcast.SetProcessors.Attempts;
import dev.concurry.hazelcast.SetProcessors.Decide;
import dev.concurry.hazelcast.SetProcessors.Decisions;
import dev.concurry.hazelcast.SetProcessors.Settle;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitException;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.limit.spi.Batch;
import dev.concurry.limit.spi.DecisionSink;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.RemoteStore;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.StoreSnapshot;
import com.hazelcast.map.EntryProcessor;
import dev.concurry.time.MonotonicClock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One set in a Hazelcast cluster (SPEC L18b); see {@link HazelcastBackend} for the user's view. Only what is
 * Hazelcast lives here: one entry-processor call per batch the engine sends, leases of resource permits and
 * their renewal, repeating a call whose outcome is unknown, release notifications. Waiting, fairness in this
 * JVM, timeouts and the acquisition handle are the core engine's, as for every backend.
 *
 * <p>Repeats are safe: this store is one "origin" (a random id), its decide calls are numbered and sent one
 * at a time (the engine keeps one call in flight per set), and the owner keeps each origin's last applied
 * call with what it granted. A repeat after a lost reply undoes those grants and is decided again, at its own
 * time: never a second grant. A call given up after the command timeout (its waiters were told nothing was
 * taken) is given back by the next call, which names it in {@code abandonedFrom}, or when the set closes;
 * the owner records a call naming one even if it changed nothing, so that a call given up on which Hazelcast
 * still delivers afterwards (its invocation outlives the command timeout) is older than the last recorded
 * one, and ignored. Settlements are repeated as they are, and applied once per grant.
 */
final class HazelcastStore implements RemoteStore {
    private static final Logger LOG = LoggerFactory.getLogger(HazelcastStore.class);
    private static final Executor ASYNC = Executors.newVirtualThreadPerTaskExecutor();

    private final LimitSetDefinition definition;
    private final List<Limit> specs;
    private final int signature;
    private final HazelcastBackend backend;
    private final MonotonicClock clock;
    private final long origin = ThreadLocalRandom.current().nextLong() | 1;
    private final AtomicLong callNumbers = new AtomicLong();
    /** The first decide call whose outcome this store never learned, until a later call is answered; 0 if none. */
    private volatile long abandonedFrom;
    /** Sequence numbers of the grants holding permits here; their leases are renewed while held. */
    private final Set<Long> leases = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean renewing = new AtomicBoolean();
    private volatile BooleanSupplier redispatch = () -> false;

    HazelcastStore(LimitSetDefinition definition, HazelcastBackend backend) {
        this.definition = definition;
        this.specs = definition.limits();
        this.signature = CompiledLimits.signature(specs);
        this.backend = backend;
        this.clock = backend.clock();
    }

    String name() {
        return definition.name();
    }

    /** Creates the set in the map, or checks that the one there has the same limits. */
    CompletableFuture<Void> open() {
        return backend.invoke(name(), "open", () -> new SetProcessors.Open(backend.reading(), specs))
                .thenApply(stored -> {
                    if (stored != null) {
                        throw otherLimits(stored);
                    }
                    return null;
                });
    }

    private IllegalStateException otherLimits(String stored) {
        return new IllegalStateException("limit set '" + name() + "' already exists in " + backend.target()
                + " with other limits: stored " + stored + ", declared here " + CompiledLimits.describe(specs)
                + "; every JVM sharing a set name must declare the same limits: use another name or the same limits");
    }

    @Override
    public MonotonicClock clock() {
        return clock;
    }

    @Override
    public String describe() {
        return "hazelcast " + backend.target() + " key '" + name() + "'";
    }

    // ---- deciding --------------------------------------------------------------------------------

    @Override
    public CompletableFuture<Long> decide(Batch batch, DecisionSink sink) {
        Attempts attempts = Attempts.of(batch);
        long callNo = callNumbers.incrementAndGet();
        long abandoned = abandonedFrom;
        long reading = backend.reading();
        long sent = clock.nanoTime();
        return decideOnce(attempts, callNo, abandoned, reading, true).handle((decisions, failure) -> {
            if (failure != null) {
                if (abandonedFrom == 0) {
                    abandonedFrom = callNo;   // it may have been applied: the next call gives it back
                }
                throw backend.translate(name(), failure);
            }
            abandonedFrom = 0;
            report(attempts, decisions, sink);
            return backend.testClock() ? sent : clock.nanoTime();
        });
    }

    private CompletableFuture<Decisions> decideOnce(Attempts attempts, long callNo, long abandoned, long reading,
            boolean reopen) {
        return backend.invoke(name(), "decide", () -> new Decide(reading, origin, callNo, abandoned, backend.holder(),
                backend.leaseNanos(), backend.keepNanos(), signature, attempts))
                .thenCompose(d -> switch (d.status) {
                    case Decisions.DECIDED -> CompletableFuture.completedFuture(d);
                    case Decisions.MISSING -> {
                        if (!reopen) {
                            throw new LimitException("limit set '" + name() + "' vanished from " + backend.target()
                                    + " again right after it was created");
                        }
                        LOG.warn("limit set '{}' was missing from {} (the map was cleared or the cluster restarted):"
                                + " created again", name(), backend.target());
                        yield open().thenCompose(created -> decideOnce(attempts, callNo, abandoned, reading, false));
                    }
                    case Decisions.OTHER_LIMITS -> throw otherLimits(d.storedLimits);
                    default -> throw new LimitException("limit set '" + name() + "': call " + callNo + " was refused"
                            + " as older than one already applied, which the store never sends");
                });
    }

    private void report(Attempts attempts, Decisions d, DecisionSink sink) {
        for (int i = 0; i < attempts.size(); i++) {
            if (d.granted[i]) {
                long seq = d.values[i];
                if (holdsResource(attempts, i)) {
                    leases.add(seq);
                    scheduleRenewal();
                }
                sink.granted(i, seq);
            } else {
                sink.refused(i, d.values[i], d.waits[i]);
                if (shortOfResource(d.values[i])) {
                    sink.recheck(untilPermitsMayReturn(d.untilLeaseExpiry));
                }
            }
        }
        for (int i = 0; i < d.available.length; i++) {
            if (!Double.isNaN(d.available[i])) {
                sink.available(i, d.available[i]);
            }
        }
    }

    private boolean holdsResource(Attempts attempts, int i) {
        for (int j = 0; j < attempts.limits[i].length; j++) {
            if (specs.get(attempts.limits[i][j]) instanceof ResourceLimit && attempts.amounts[i][j] > 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * A permit comes back on a release (this JVM decides again at once; others hear it on the backend's
     * topic), when its holder's member leaves (announced too), or when a lease expires, which nobody
     * announces: a waiter short of a permit is also decided again when the earliest lease could expire
     * (or after a third of a lease, if none is held). A refusal's own wait stays the algorithms' (only a
     * release frees a permit).
     */
    private double untilPermitsMayReturn(double untilLeaseExpiry) {
        return Double.isNaN(untilLeaseExpiry) ? backend.leaseNanos() / 3.0 : Math.max(0, untilLeaseExpiry) + 1_000_000;
    }

    private boolean shortOfResource(long shortOf) {
        for (int i = 0; i < specs.size(); i++) {
            if ((shortOf & (1L << i)) != 0 && specs.get(i) instanceof ResourceLimit) {
                return true;
            }
        }
        return false;
    }

    /**
     * Records a provider's report on the owner (one call); as after a refund, waiters in every member and
     * client look again (a new budget may be looser than the last).
     */
    @Override
    public CompletableFuture<Void> observe(dev.concurry.limit.spi.Feedback feedback) {
        long reading = backend.reading();
        return backend.invoke(name(), "observe", () -> new SetProcessors.Observe(reading, feedback))
                .handle((reply, failure) -> {
                    if (failure != null) {
                        throw backend.translate(name(), failure);
                    }
                    if (reply == SetProcessors.Observe.MISSING) {
                        throw new LimitException("limit set '" + name() + "' is missing from " + backend.target()
                                + ": the provider's report was not recorded");
                    }
                    backend.publishReleased(name());
                    return null;
                });
    }

    // ---- settling and leases ---------------------------------------------------------------------

    @Override
    public CompletableFuture<Boolean> settle(ResolvedRequest r, long seq, double[] used) {
        leases.remove(seq);
        if (!r.holdsResource() && !changesRates(r, used)) {
            return CompletableFuture.completedFuture(false);
        }
        long reading = backend.reading();
        long sent = System.nanoTime();
        Supplier<EntryProcessor<String, StoredSet, Integer>> settle = () -> new Settle(reading, seq, r, used,
                backend.keepNanos());
        return backend.invoke(name(), "settle", settle).handle((reply, failure) -> {
            if (failure == null) {
                return settled(r, reply);
            }
            RuntimeException e = backend.translate(name(), failure);
            if (e instanceof ClusterUnavailableException) {
                settleLater(settle, seq, sent);
            }
            throw e;
        });
    }

    /**
     * Repeats a settlement whose outcome is unknown in the background, while the owner still remembers the
     * grants it settled (so a repeat applies once), so that its permits and refunds are not lost: the engine
     * was told it failed, the set learns it anyway once the cluster answers.
     */
    private void settleLater(Supplier<EntryProcessor<String, StoredSet, Integer>> settle, long seq, long sent) {
        backend.repeatUntil(sent + backend.keepNanos() / 2, () -> backend.invoke(name(), "settle", settle))
                .whenComplete((reply, failure) -> {
                    if (failure == null) {
                        LOG.info("settled grant {} of limit set '{}' after all, in the background", seq, name());
                    } else {
                        LOG.warn("gave up settling grant {} of limit set '{}': {}; its permits come back when its lease"
                                + " expires", seq, name(), backend.translate(name(), failure).getMessage());
                    }
                });
    }

    private boolean settled(ResolvedRequest r, int reply) {
        if ((reply & Settle.OUTCOME) == Settle.LEASE_EXPIRED) {
            backend.leaseExpired();
            LOG.warn("the lease on {} of limit set '{}' had expired before it was released (held longer"
                    + " than the lease of {} without renewal, or its member was removed from the cluster);"
                    + " its permits were already reclaimed and are not released twice", r.granted(),
                    name(), backend.lease());
        }
        boolean freed = (reply & Settle.FREED) != 0;
        if (freed) {
            backend.publishReleased(name());
        }
        return freed;
    }

    private boolean changesRates(ResolvedRequest r, double[] used) {
        if (used == null) {
            return false;
        }
        for (int j = 0; j < r.size(); j++) {
            if (!(specs.get(r.limitIndex(j)) instanceof ResourceLimit) && !Double.isNaN(used[j])
                    && used[j] != r.amount(j)) {
                return true;
            }
        }
        return false;
    }

    private void scheduleRenewal() {
        if (renewing.compareAndSet(false, true)) {
            clock.wakeAt(clock.nanoTime() + backend.leaseNanos() / 3, this::renewLeases);
        }
    }

    /**
     * Renews every lease held here, in one call, then reschedules itself while leases remain and the backend
     * can reach its cluster.
     */
    private void renewLeases() {
        List<Long> held = new ArrayList<>(leases);
        if (held.isEmpty() || !backend.isUsable()) {
            renewing.set(false);
            if (!leases.isEmpty() && backend.isUsable()) {
                scheduleRenewal();
            }
            return;
        }
        long[] seqs = held.stream().mapToLong(Long::longValue).toArray();
        long reading = backend.reading();
        backend.invoke(name(), "renew",
                () -> new SetProcessors.Renew(reading, backend.holder(), seqs, backend.leaseNanos()))
                .whenComplete((renewed, failure) -> {
                    if (failure != null) {
                        LOG.warn("could not renew {} lease(s) of limit set '{}': {}", seqs.length, name(),
                                backend.translate(name(), failure).getMessage());
                        return;
                    }
                    for (int k = 0; k < seqs.length; k++) {
                        if (!renewed[k] && leases.remove(seqs[k])) {
                            LOG.warn("the lease of grant {} of limit set '{}' expired before it could be renewed;"
                                    + " its permits were reclaimed", seqs[k], name());
                        }
                    }
                });
        clock.wakeAt(clock.nanoTime() + backend.leaseNanos() / 3, this::renewLeases);
    }

    // ---- reading, notifications, close -----------------------------------------------------------

    @Override
    public CompletableFuture<StoreSnapshot> snapshot() {
        return read(true).handle((snapshot, failure) -> {
            if (failure != null) {
                throw backend.translate(name(), failure);
            }
            return snapshot;
        });
    }

    private CompletableFuture<StoreSnapshot> read(boolean reopen) {
        long reading = backend.reading();
        return backend.invoke(name(), "read", () -> new SetProcessors.Read(reading)).thenCompose(usage -> {
            if (usage.length == 0 && reopen) {
                return open().thenCompose(created -> read(false));
            }
            int n = specs.size();
            double[] available = new double[n];
            double[] inUse = new double[n];
            for (int i = 0; i < n && usage.length == 2 * n; i++) {
                available[i] = usage[2 * i];
                inUse[i] = usage[2 * i + 1];
            }
            return CompletableFuture.completedFuture(new StoreSnapshot(available, inUse));
        });
    }

    @Override
    public void listen(BooleanSupplier redispatch) {
        this.redispatch = redispatch;
    }

    /** Units came back in another JVM (or this one): waiters may now be granted. */
    void onRemoteRelease() {
        BooleanSupplier decide = redispatch;
        ASYNC.execute(decide::getAsBoolean);
    }

    /**
     * Forgets this store. If its last decide calls ended without an answer, one more call (deciding nothing)
     * gives their grants back now rather than when their leases expire; repeated in the background while
     * the owner still keeps this store's record.
     */
    @Override
    public void close() {
        backend.forget(this);
        long abandoned = abandonedFrom;
        if (abandoned == 0 || !backend.isUsable()) {
            return;
        }
        long callNo = callNumbers.incrementAndGet();
        long reading = backend.reading();
        backend.repeatUntil(System.nanoTime() + backend.keepNanos() / 2,
                () -> decideOnce(Attempts.none(), callNo, abandoned, reading, false))
                .whenComplete((decisions, failure) -> {
                    if (failure != null) {
                        LOG.warn("could not give back the grants of limit set '{}' whose outcome stayed unknown: {};"
                                + " their permits come back when their leases expire", name(),
                                backend.translate(name(), failure).getMessage());
                    }
                });
    }

    @Override
    public String toString() {
        return "HazelcastStore[" + describe() + ", origin " + Long.toHexString(origin) + "]";
    }
}
