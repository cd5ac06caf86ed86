package dev.concurry.redis;

import dev.concurry.limit.Limit;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.limit.spi.Batch;
import dev.concurry.limit.spi.DecisionSink;
import dev.concurry.limit.spi.Feedback;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.RemoteStore;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.StoreSnapshot;
import dev.concurry.time.MonotonicClock;
import io.lettuce.core.ScriptOutputType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state of one set in Redis (SPEC L18); see {@link RedisBackend} for the user's view. Only what is
 * Redis lives here: the script call of a batch, leases of resource permits and their renewal,
 * fail-open, release notifications. Waiting, fairness within this JVM, timeouts and the acquisition
 * handle are the core engine's, as for every backend.
 */
final class RedisStore implements RemoteStore {
    private static final Logger log = LoggerFactory.getLogger(RedisStore.class);
    private static final Executor ASYNC = Executors.newVirtualThreadPerTaskExecutor();

    private final LimitSetDefinition definition;
    private final List<Limit> specs;
    private final RedisBackend backend;
    private final MonotonicClock clock;
    private final LimitScript script;
    /** Lease members of the grants holding permits, by sequence number; renewed while held. */
    private final Map<Long, String> leases = new ConcurrentHashMap<>();
    private final AtomicBoolean renewing = new AtomicBoolean();
    private volatile BooleanSupplier redispatch = () -> false;
    private volatile long lastFailOpenWarning = Long.MIN_VALUE;

    RedisStore(LimitSetDefinition definition, RedisBackend backend) {
        this.definition = definition;
        this.specs = definition.limits();
        this.backend = backend;
        this.clock = backend.clock();
        this.script = new LimitScript(backend.keyPrefix() + "{" + definition.name() + "}", specs, backend.lease());
    }

    /** Creates the set in Redis, or checks that the one there has the same limits. */
    void init() {
        backend.eval(name(), ScriptOutputType.STATUS, script.keys(), script.init(backend.timeArgument()));
    }

    String channel() {
        return script.channel();
    }

    private String name() {
        return definition.name();
    }

    @Override
    public MonotonicClock clock() {
        return clock;
    }

    @Override
    public String describe() {
        return "redis " + script.keys()[0] + " on " + backend.target();
    }

    // ---- deciding --------------------------------------------------------------------------------

    @Override
    public CompletableFuture<Long> decide(Batch batch, DecisionSink sink) {
        List<LimitScript.Attempt> attempts = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            ResolvedRequest r = batch.request(i);
            attempts.add(new LimitScript.Attempt(r, r.holdsResource() ? leaseMember(r) : "", batch.isTry(i)));
        }
        long sent = clock.nanoTime();
        CompletableFuture<List<Object>> call;
        try {
            call = backend.evalAsync(name(), ScriptOutputType.MULTI, script.keys(),
                    script.acquire(backend.timeArgument(), attempts));
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        return call.handle((reply, failure) -> {
            if (failure != null) {
                RuntimeException e = backend.translate(name(), failure);
                if (!(e instanceof RedisUnavailableException unavailable) || !backend.failOpen()) {
                    throw e;
                }
                warnFailOpen(unavailable);
                for (int i = 0; i < attempts.size(); i++) {
                    sink.granted(i, 0);
                }
                return clock.nanoTime();
            }
            LimitScript.Decisions decisions = script.decisions(reply);
            for (int i = 0; i < attempts.size(); i++) {
                switch (decisions.decisions().get(i)) {
                    case LimitScript.Granted g -> {
                        String member = attempts.get(i).member();
                        if (!member.isEmpty()) {
                            leases.put(g.seq(), member);
                            scheduleRenewal();
                        }
                        sink.granted(i, g.seq());
                    }
                    case LimitScript.Refused refused -> {
                        sink.refused(i, refused.shortOf(), refused.waitNanos());
                        if (shortOfResource(refused)) {
                            sink.recheck(untilPermitsMayReturn(decisions.untilLeaseExpiry()));
                        }
                    }
                }
            }
            for (int i = 0; i < decisions.available().length; i++) {
                if (!Double.isNaN(decisions.available()[i])) {
                    sink.available(i, decisions.available()[i]);
                }
            }
            return backend.testClock() ? sent : clock.nanoTime();
        });
    }

    /**
     * A permit comes back on a release (this JVM decides again at once; others are told through the
     * set's channel) or when a lease expires, which nobody announces: a waiter short of a permit is also
     * decided again when the earliest lease could expire (or after a third of a lease, if none is held).
     */
    private double untilPermitsMayReturn(double untilLeaseExpiry) {
        return Double.isNaN(untilLeaseExpiry) ? backend.lease().toNanos() / 3.0 : Math.max(0, untilLeaseExpiry) + 1_000_000;
    }

    private boolean shortOfResource(LimitScript.Refused refused) {
        for (int i = 0; i < specs.size(); i++) {
            if ((refused.shortOf() & (1L << i)) != 0 && specs.get(i) instanceof ResourceLimit) {
                return true;
            }
        }
        return false;
    }

    private void warnFailOpen(RedisUnavailableException e) {
        long now = System.nanoTime();
        if (lastFailOpenWarning == Long.MIN_VALUE || now - lastFailOpenWarning > 10_000_000_000L) {
            lastFailOpenWarning = now;
            log.warn("granting from limit set '{}' without limits (fail-open): {}", name(), e.getMessage());
        }
    }

    // ---- settling and leases ---------------------------------------------------------------------

    @Override
    public CompletableFuture<Boolean> settle(ResolvedRequest r, long seq, double[] used) {
        String member = leases.remove(seq);
        String[] args = script.settle(backend.timeArgument(), r, seq, used, member == null ? "" : member);
        if (args == null) {
            return CompletableFuture.completedFuture(false);
        }
        boolean refunds = false;
        for (int j = 0; used != null && j < used.length; j++) {
            refunds |= used[j] < r.amount(j);
        }
        boolean refunded = refunds;
        CompletableFuture<Long> call;
        try {
            call = backend.evalAsync(name(), ScriptOutputType.INTEGER, script.keys(), args);
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        return call.handle((reply, failure) -> {
            if (failure != null) {
                throw backend.translate(name(), failure);
            }
            LimitScript.Settled settled = LimitScript.settled(reply);
            if (settled == LimitScript.Settled.LEASE_EXPIRED) {
                backend.leaseExpired();
                log.warn("the lease on {} of limit set '{}' had expired before it was released (held longer than the"
                        + " lease of {} without renewal: a long pause or lost connection); its permits were already"
                        + " reclaimed and are not released twice", r.granted(), name(), backend.lease());
            }
            return refunded || settled == LimitScript.Settled.RELEASED;
        });
    }

    private void scheduleRenewal() {
        if (renewing.compareAndSet(false, true)) {
            clock.wakeAt(clock.nanoTime() + backend.lease().toNanos() / 3, this::renewLeases);
        }
    }

    /** Renews every lease held here, in one call, then reschedules itself while leases remain. */
    private void renewLeases() {
        List<Map.Entry<Long, String>> held = new ArrayList<>(leases.entrySet());
        if (held.isEmpty() || backend.isClosed()) {
            renewing.set(false);
            if (!leases.isEmpty() && !backend.isClosed()) {
                scheduleRenewal();
            }
            return;
        }
        List<String> members = held.stream().map(Map.Entry::getValue).toList();
        try {
            backend.<List<Object>>evalAsync(name(), ScriptOutputType.MULTI, script.keys(),
                            script.renew(backend.timeArgument(), members))
                    .whenComplete((reply, failure) -> {
                        if (failure != null) {
                            log.warn("could not renew {} lease(s) of limit set '{}': {}", held.size(), name(),
                                    backend.translate(name(), failure).getMessage());
                            return;
                        }
                        List<Boolean> renewed = LimitScript.renewed(reply);
                        for (int i = 0; i < held.size(); i++) {
                            Map.Entry<Long, String> lease = held.get(i);
                            if (!renewed.get(i) && leases.remove(lease.getKey(), lease.getValue())) {
                                log.warn("the lease {} of limit set '{}' expired before it could be renewed; its"
                                        + " permits were reclaimed", lease.getValue(), name());
                            }
                        }
                    });
        } catch (RuntimeException e) {
            log.warn("could not renew {} lease(s) of limit set '{}': {}", held.size(), name(), e.getMessage());
        }
        clock.wakeAt(clock.nanoTime() + backend.lease().toNanos() / 3, this::renewLeases);
    }

    private String leaseMember(ResolvedRequest r) {
        StringBuilder member = new StringBuilder(backend.newLeaseId()).append('|');
        for (int j = 0; j < r.size(); j++) {
            if (specs.get(r.limitIndex(j)) instanceof ResourceLimit && r.amount(j) > 0) {
                member.append(r.limitIndex(j)).append('=').append((long) r.amount(j)).append(';');
            }
        }
        return member.toString();
    }

    // ---- reading, notifications, close -----------------------------------------------------------

    @Override
    public CompletableFuture<StoreSnapshot> snapshot() {
        CompletableFuture<List<Object>> call;
        try {
            call = backend.evalAsync(name(), ScriptOutputType.MULTI, script.keys(), script.stats(backend.timeArgument()));
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        return call.handle((reply, failure) -> {
            if (failure != null) {
                throw backend.translate(name(), failure);
            }
            LimitScript.Usage usage = LimitScript.usage(reply);
            return new StoreSnapshot(usage.available(), usage.inUse());
        });
    }

    @Override
    public CompletableFuture<Void> observe(Feedback feedback) {
        CompletableFuture<String> call;
        try {
            call = backend.evalAsync(name(), ScriptOutputType.STATUS, script.keys(),
                    script.observe(backend.timeArgument(), feedback));
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        return call.handle((reply, failure) -> {
            if (failure != null) {
                throw backend.translate(name(), failure);
            }
            return null;
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

    @Override
    public void close() {
        backend.forget(this);
    }
}
