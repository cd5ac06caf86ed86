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
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state of one set in Redis (SPEC L18); see {@link RedisBackend} for the user's view. Only what is
 * Redis lives here: the script call of a batch, leases of resource permits and their renewal,
 * fail-open, notifications, this JVM's place in the set's queue across JVMs, and making every call
 * count at most once. Waiting, timeouts and the acquisition handle are the core engine's, as for every
 * backend.
 *
 * <h2>At most once</h2>
 * Each call that changes state is numbered; the script records its outcome under this store's owner
 * id until {@link #low()} tells it this store has the answer (see {@code limitset.lua}). A call whose
 * reply is lost (a timeout, a dropped connection) is <em>in doubt</em>: it stays unsettled, so the
 * script keeps its record, and
 * <ul>
 *   <li>an acquire is undone: an {@code undo} call (retried until Redis answers) gives back what it
 *       granted, or marks it so that it never runs if it has not yet; its waiters were told that
 *       nothing was taken, and that is made true;</li>
 *   <li>a settlement is sent again with the same number until Redis answers: it is applied once.</li>
 * </ul>
 * A call that Lettuce re-sends after reconnecting finds its record and replays its outcome.
 */
final class RedisStore implements RemoteStore {
    private static final Logger log = LoggerFactory.getLogger(RedisStore.class);
    private static final Executor ASYNC = Executors.newVirtualThreadPerTaskExecutor();
    /** How often this JVM's waiters ask again while they wait, which keeps their tickets alive (3 s). */
    private static final long POLL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** First pause before a call in doubt is sent again; doubled up to {@link #MAX_RETRY_MILLIS}. */
    private static final long FIRST_RETRY_MILLIS = 50;
    private static final long MAX_RETRY_MILLIS = 2_000;
    private static final long MAX_RENEWAL_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final int OFFSET_SAMPLES = 32;
    /** Samples older than this are not used: the two clocks drift apart (an NTP slew: up to 0.5 ms/s). */
    private static final long OFFSET_MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final int OFFSET_PROBES = 8;
    private static final long OFFSET_PROBE_MILLIS = 50;
    /** Pause before renewing again after a renewal failed (Redis may be back at any moment). */
    private static final long RENEWAL_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final LimitSetDefinition definition;
    private final List<Limit> specs;
    private final RedisBackend backend;
    private final MonotonicClock clock;
    private final LimitScript script;
    /** This store's identity in the set: its records and its waiters' tickets. */
    private final String owner;
    /** Lease members of the grants holding permits, by sequence number; renewed while held. */
    private final Map<Long, String> leases = new ConcurrentHashMap<>();
    private final AtomicBoolean renewing = new AtomicBoolean();
    /**
     * Guards {@link #lastCall} and {@link #unsettled} (numbers are taken and the low mark read together),
     * and the offsets measured.
     */
    private final ReentrantLock numbering = new ReentrantLock();
    private long lastCall;
    /** Numbers of the calls sent whose outcome this store does not know yet (in flight or in doubt). */
    private final TreeSet<Long> unsettled = new TreeSet<>();
    /** Waiters that left the engine's queue, whose tickets are still to be dropped in Redis. */
    private final Set<Long> left = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean leaving = new AtomicBoolean();
    private final AtomicBoolean polling = new AtomicBoolean();
    private volatile boolean waitersPresent;
    private volatile boolean closed;
    private volatile BooleanSupplier redispatch = () -> false;
    private volatile long lastFailOpenWarning = Long.MIN_VALUE;
    /** This JVM's clock against the server's, to place waiters in the queue across JVMs by when they queued. */
    private volatile Offset offset;
    /** The last offsets measured (guarded by {@link #numbering}). */
    private final Offset[] offsets = new Offset[OFFSET_SAMPLES];
    private int offsetCount;

    RedisStore(LimitSetDefinition definition, RedisBackend backend) {
        this.definition = definition;
        this.specs = definition.limits();
        this.backend = backend;
        this.clock = backend.clock();
        this.owner = backend.newOwnerId();
        this.script = new LimitScript(backend.keyPrefix() + "{" + definition.name() + "}", specs, backend.lease());
    }

    /** Creates the set in Redis, or checks that the one there has the same limits. */
    void init() {
        backend.eval(script, name(), ScriptOutputType.STATUS, script.init(backend.timeArgument(), idempotent()));
        if (!backend.testClock()) {
            probeClock(OFFSET_PROBES);
        }
    }

    /**
     * Measures the offset to the server's clock with {@code remaining} calls {@value #OFFSET_PROBE_MILLIS}
     * ms apart, in the background, as NTP starts with a burst: a JVM's first round trips are slow (its
     * code not yet compiled), and its first waiters would be placed in the queue across JVMs by them.
     */
    private void probeClock(int remaining) {
        if (remaining == 0 || closed || backend.isClosed()) {
            return;
        }
        CompletableFuture.delayedExecutor(OFFSET_PROBE_MILLIS, TimeUnit.MILLISECONDS, ASYNC).execute(() -> {
            long sent = clock.nanoTime();
            this.<String>send(ScriptOutputType.VALUE, () -> script.clock(backend.timeArgument(), idempotent()))
                    .whenComplete((time, failure) -> {
                        if (failure == null) {
                            measureOffset(sent, clock.nanoTime(), LimitScript.time(time));
                        }
                        probeClock(remaining - 1);
                    });
        });
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

    // ---- numbering calls -------------------------------------------------------------------------

    /** A new numbered call: recorded by the script until this store knows its outcome. */
    private LimitScript.Call numbered() {
        numbering.lock();
        try {
            long number = ++lastCall;
            unsettled.add(number);
            return new LimitScript.Call(owner, number, unsettled.first());
        } finally {
            numbering.unlock();
        }
    }

    /** A call that may run any number of times (it is not recorded). */
    private LimitScript.Call idempotent() {
        return new LimitScript.Call(owner, 0, low());
    }

    /** The call again, as it is sent once more (its number, and the low mark as it is now). */
    private LimitScript.Call again(long number) {
        return new LimitScript.Call(owner, number, low());
    }

    /** Every call numbered below it has a known outcome. */
    private long low() {
        numbering.lock();
        try {
            return unsettled.isEmpty() ? lastCall + 1 : unsettled.first();
        } finally {
            numbering.unlock();
        }
    }

    private void settled(long number) {
        numbering.lock();
        try {
            unsettled.remove(number);
        } finally {
            numbering.unlock();
        }
    }

    // ---- deciding --------------------------------------------------------------------------------

    @Override
    public CompletableFuture<Long> decide(Batch batch, DecisionSink sink) {
        List<LimitScript.Attempt> attempts = new ArrayList<>(batch.size());
        long now = clock.nanoTime();
        for (int i = 0; i < batch.size(); i++) {
            ResolvedRequest r = batch.request(i);
            long queued = batch.queuedAt(i) == Long.MIN_VALUE ? now : batch.queuedAt(i);
            attempts.add(
                    new LimitScript.Attempt(batch.id(i), r, r.holdsResource() ? leaseMember(r) : "", batch.isTry(i),
                            onServerClock(queued), Math.max(0, now - queued)));
        }
        List<Long> leaving = List.copyOf(left);
        LimitScript.Call call = numbered();
        long sent = clock.nanoTime();
        CompletableFuture<List<Object>> reply = send(ScriptOutputType.MULTI,
                () -> script.acquire(backend.timeArgument(), call, join(leaving), attempts));
        return reply.handle((values, failure) -> {
            if (failure != null) {
                RuntimeException e = backend.translate(name(), failure);
                if (e instanceof RedisUnavailableException) {
                    inDoubt(call.number(), attempts);
                } else {
                    settled(call.number());     // refused by Redis or never sent: it did not run
                }
                if (!(e instanceof RedisUnavailableException unavailable) || !backend.failOpen()) {
                    throw e;
                }
                warnFailOpen(unavailable);
                for (int i = 0; i < attempts.size(); i++) {
                    sink.granted(i, 0);
                }
                return clock.nanoTime();
            }
            settled(call.number());
            left.removeAll(leaving);
            LimitScript.Decisions decisions = script.decisions(values, attempts.size());
            measureOffset(sent, clock.nanoTime(), decisions.time());
            for (int i = 0; i < attempts.size(); i++) {
                switch (decisions.decisions().get(i)) {
                    case LimitScript.Granted g -> {
                        String member = attempts.get(i).member();
                        if (!member.isEmpty()) {
                            leases.put(g.seq(), member);
                            scheduleRenewal(renewalNanos());
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
     * Where {@code local} (a reading of this JVM's clock) falls on the script's clock, in ns: the same
     * on a test clock (it is the time argument), else estimated from {@link #offset};
     * {@link LimitScript#UNKNOWN} before the first reply.
     */
    private long onServerClock(long local) {
        if (backend.testClock()) {
            return local;
        }
        Offset o = offset;
        return o == null ? LimitScript.UNKNOWN : local + o.nanos();
    }

    /**
     * Learns the offset of the server's clock (script {@code time}, µs) from this JVM's, as NTP does: the
     * server read it somewhere between {@code sent} and {@code received}, so the midpoint is off by at
     * most half the round trip. Of the last {@value #OFFSET_SAMPLES} calls, the fastest round trip gives
     * the estimate (a busy machine delays many calls, rarely all of them; the clocks drift apart too
     * slowly to matter between them, and samples older than 10 s are left out).
     */
    private void measureOffset(long sent, long received, double time) {
        if (backend.testClock() || Double.isNaN(time)) {
            return;
        }
        Offset sample = new Offset((long) (time * 1000) - (sent / 2 + received / 2), received - sent, received);
        numbering.lock();
        try {
            offsets[offsetCount++ % OFFSET_SAMPLES] = sample;
            Offset best = sample;
            for (Offset o : offsets) {
                if (o != null && o.roundTrip() < best.roundTrip() && received - o.measuredAt() < OFFSET_MAX_AGE_NANOS) {
                    best = o;
                }
            }
            offset = best;
        } finally {
            numbering.unlock();
        }
    }

    /** The server's clock minus this JVM's, in ns, measured by a call that took {@code roundTrip} ns, ending then. */
    private record Offset(long nanos, long roundTrip, long measuredAt) {
    }

    /**
     * A permit comes back on a release (this JVM decides again at once; others are told through the
     * set's channel) or when a lease expires, which nobody announces: a waiter short of a permit is also
     * decided again when the earliest lease could expire (or after a third of a lease, if none is held).
     */
    private double untilPermitsMayReturn(double untilLeaseExpiry) {
        return Double.isNaN(untilLeaseExpiry)
                ? backend.lease().toNanos() / 3.0
                : Math.max(0, untilLeaseExpiry) + 1_000_000;
    }

    private boolean shortOfResource(LimitScript.Refused refused) {
        for (int i = 0; i < specs.size(); i++) {
            if ((refused.shortOf() & (1L << i)) != 0 && specs.get(i) instanceof ResourceLimit) {
                return true;
            }
        }
        return false;
    }

    /**
     * The acquire call {@code number} may or may not have run, and its waiters were told that nothing
     * was taken: undo it (give back what it granted, or make sure it never runs), until Redis answers.
     */
    private void inDoubt(long number, List<LimitScript.Attempt> attempts) {
        retryUntilAnswered(number, ScriptOutputType.INTEGER,
                () -> script.undo(backend.timeArgument(), again(number), attempts), (Long result) -> {
                    if (result != null && LimitScript.undone(result)) {
                        log.info("limit set '{}': a call whose reply was lost had granted {} attempt(s); given back",
                                name(), attempts.size());
                        onRemoteRelease();
                    }
                });
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
        String held = leases.remove(seq);
        String member = held == null ? "" : held;
        if (!script.needsSettling(r, used, member)) {
            return CompletableFuture.completedFuture(false);
        }
        boolean refunds = false;
        for (int j = 0; used != null && j < used.length; j++) {
            refunds |= used[j] < r.amount(j);
        }
        boolean refunded = refunds;
        LimitScript.Call call = numbered();
        CompletableFuture<Long> reply = send(ScriptOutputType.INTEGER,
                () -> script.settle(backend.timeArgument(), call, r, seq, used, member));
        return reply.handle((result, failure) -> {
            if (failure != null) {
                RuntimeException e = backend.translate(name(), failure);
                if (!(e instanceof RedisUnavailableException)) {
                    settled(call.number());
                    throw e;
                }
                // It may have run, or not yet: the same call (same number) again until Redis answers, so
                // that it counts exactly once.
                retryUntilAnswered(call.number(), ScriptOutputType.INTEGER,
                        () -> script.settle(backend.timeArgument(), again(call.number()), r, seq, used, member),
                        (Long late) -> {
                            if (late != null
                                    && (refunded || LimitScript.settled(late) == LimitScript.Settled.RELEASED)) {
                                onRemoteRelease();
                            }
                        });
                throw new RedisUnavailableException(e.getMessage() + "; the settlement is kept and will be applied,"
                        + " once, when Redis answers again", e);
            }
            settled(call.number());
            LimitScript.Settled settled = LimitScript.settled(result);
            if (settled == LimitScript.Settled.LEASE_EXPIRED) {
                backend.leaseExpired();
                log.warn("the lease on {} of limit set '{}' had expired before it was released (held longer than the"
                        + " lease of {} without renewal: a long pause or lost connection); its permits were already"
                        + " reclaimed and are not released twice", r.granted(), name(), backend.lease());
            }
            return refunded || settled == LimitScript.Settled.RELEASED;
        });
    }

    /**
     * How often held leases are renewed: every third of a lease, at most every 10 s, so that after a
     * restart of Redis they are re-asserted within the 30 s the script withholds permits for.
     */
    private long renewalNanos() {
        return Math.min(backend.lease().toNanos() / 3, MAX_RENEWAL_NANOS);
    }

    private void scheduleRenewal(long delayNanos) {
        if (renewing.compareAndSet(false, true)) {
            clock.wakeAt(clock.nanoTime() + delayNanos, this::renewLeases);
        }
    }

    /**
     * Renews every lease held here, in one call, then again a third of a lease later while leases
     * remain (sooner after a failure). A lease the server lost in a restart is re-asserted (SPEC L18,
     * issue 17 R3): the script counts its permits again while it withholds permits after the restart.
     */
    private void renewLeases() {
        renewing.set(false);
        List<Map.Entry<Long, String>> held = new ArrayList<>(leases.entrySet());
        if (held.isEmpty() || backend.isClosed() || closed) {
            return;
        }
        List<String> members = held.stream().map(Map.Entry::getValue).toList();
        this.<List<Object>>send(ScriptOutputType.MULTI,
                () -> script.renew(backend.timeArgument(), idempotent(), members))
                .whenComplete((reply, failure) -> {
                    if (failure != null) {
                        log.warn("could not renew {} lease(s) of limit set '{}': {}", held.size(), name(),
                                backend.translate(name(), failure).getMessage());
                        scheduleRenewal(RENEWAL_RETRY_NANOS);
                        return;
                    }
                    List<LimitScript.Renewal> renewed = LimitScript.renewed(reply);
                    int reasserted = 0;
                    for (int i = 0; i < held.size(); i++) {
                        Map.Entry<Long, String> lease = held.get(i);
                        if (renewed.get(i) == LimitScript.Renewal.REASSERTED) {
                            reasserted++;
                        } else if (renewed.get(i) == LimitScript.Renewal.GONE
                                && leases.remove(lease.getKey(), lease.getValue())) {
                            log.warn("the lease {} of limit set '{}' expired before it could be renewed; its"
                                    + " permits were reclaimed", lease.getValue(), name());
                        }
                    }
                    if (reasserted > 0) {
                        log.warn("Redis had lost limit set '{}' (a restart without persistence?): {} lease(s) held"
                                + " here were re-asserted", name(), reasserted);
                    }
                    scheduleRenewal(renewalNanos());
                });
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

    // ---- the queue across JVMs -------------------------------------------------------------------

    /** The waiter left without a grant: its ticket is dropped with the next call, or by one of its own. */
    @Override
    public void left(long id) {
        left.add(id);
        if (leaving.compareAndSet(false, true)) {
            // Most often a decide call follows at once and carries it; otherwise this one does.
            CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS, ASYNC).execute(this::sendLeft);
        }
    }

    private void sendLeft() {
        leaving.set(false);
        List<Long> ids = List.copyOf(left);
        if (ids.isEmpty() || closed || backend.isClosed()) {
            return;
        }
        this.<Long>send(ScriptOutputType.INTEGER, () -> script.leave(backend.timeArgument(), idempotent(), join(ids)))
                .whenComplete((done, failure) -> {
                    if (failure == null) {
                        left.removeAll(ids);
                    }
                });
    }

    /**
     * While this JVM has waiters, they are decided again every second whatever happens: their tickets
     * stay alive, and a notification lost with a connection delays nobody for long.
     */
    @Override
    public void waiters(boolean present) {
        waitersPresent = present;
        if (present && polling.compareAndSet(false, true)) {
            clock.wakeAt(clock.nanoTime() + POLL_NANOS, this::poll);
        }
    }

    private void poll() {
        polling.set(false);
        if (!waitersPresent || closed) {
            return;
        }
        ASYNC.execute(() -> redispatch.getAsBoolean());
        waiters(waitersPresent);
    }

    private static String join(List<Long> ids) {
        StringBuilder text = new StringBuilder();
        for (Long id : ids) {
            if (!text.isEmpty()) {
                text.append(',');
            }
            text.append(id);
        }
        return text.toString();
    }

    // ---- reading, notifications, close -----------------------------------------------------------

    @Override
    public CompletableFuture<StoreSnapshot> snapshot() {
        return this.<List<Object>>send(ScriptOutputType.MULTI, () -> script.stats(backend.timeArgument(), idempotent()))
                .handle((reply, failure) -> {
                    if (failure != null) {
                        throw backend.translate(name(), failure);
                    }
                    LimitScript.Usage usage = LimitScript.usage(reply);
                    return new StoreSnapshot(usage.available(), usage.inUse());
                });
    }

    /**
     * Records what a provider reported, once: a numbered call, so that a re-sent one is not applied
     * twice; one whose reply is lost is given up (numbered below the low mark from then on, it never
     * runs later).
     */
    @Override
    public CompletableFuture<Void> observe(Feedback feedback) {
        LimitScript.Call call = numbered();
        return this.<String>send(ScriptOutputType.STATUS, () -> script.observe(backend.timeArgument(), call, feedback))
                .handle((reply, failure) -> {
                    settled(call.number());
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

    /**
     * Units came back, or the queue across JVMs moved: {@code owners} (comma-separated) hold the first
     * ticket short of some key; only they ask again (the others still queue behind them).
     */
    void onNotification(String owners) {
        for (int at = owners.indexOf(owner); at >= 0; at = owners.indexOf(owner, at + 1)) {
            int end = at + owner.length();
            if ((at == 0 || owners.charAt(at - 1) == ',') && (end == owners.length() || owners.charAt(end) == ',')) {
                onRemoteRelease();
                return;
            }
        }
    }

    /** Units came back, or the queue moved, in another JVM (or this one): waiters may now be granted. */
    void onRemoteRelease() {
        BooleanSupplier decide = redispatch;
        ASYNC.execute(decide::getAsBoolean);
    }

    @Override
    public void close() {
        closed = true;
        if (!backend.isClosed()) {
            // Waiters still queued were failed by the engine: their places go too (else they expire).
            send(ScriptOutputType.INTEGER, () -> script.leave(backend.timeArgument(), idempotent(), "*"));
        }
        backend.forget(this);
    }

    // ---- calls -----------------------------------------------------------------------------------

    /** One script call, its arguments built just before it is sent; a failure to send fails the future. */
    private <T> CompletableFuture<T> send(ScriptOutputType type, Supplier<String[]> args) {
        try {
            return backend.evalAsync(script, name(), type, args.get());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Sends call {@code number} again (built by {@code args}) until Redis answers, with pauses growing
     * from {@value #FIRST_RETRY_MILLIS} ms to {@value #MAX_RETRY_MILLIS} ms, then settles it and hands the
     * answer to {@code done} (null if the backend closed first). Every attempt carries the same number, so
     * the script applies it at most once.
     */
    private <T> void retryUntilAnswered(long number, ScriptOutputType type, Supplier<String[]> args,
            Consumer<T> done) {
        retry(number, type, args, done, 0);
    }

    private <T> void retry(long number, ScriptOutputType type, Supplier<String[]> args,
            Consumer<T> done, long pauseMillis) {
        Runnable attempt = () -> {
            if (backend.isClosed()) {
                settled(number);
                done.accept(null);
                return;
            }
            this.<T>send(type, args).whenComplete((T result, Throwable failure) -> {
                if (failure == null) {
                    settled(number);
                    done.accept(result);
                } else if (backend.isClosed()) {
                    settled(number);
                    done.accept(null);
                } else if (backend.translate(name(), failure) instanceof RedisUnavailableException) {
                    retry(number, type, args, done,
                            Math.min(MAX_RETRY_MILLIS, Math.max(FIRST_RETRY_MILLIS, 2 * pauseMillis)));
                } else {
                    log.warn("limit set '{}': giving up a call whose reply was lost: {}", name(),
                            backend.translate(name(), failure).getMessage());
                    settled(number);
                    done.accept(null);
                }
            });
        };
        if (pauseMillis == 0) {
            ASYNC.execute(attempt);
        } else {
            CompletableFuture.delayedExecutor(pauseMillis, TimeUnit.MILLISECONDS, ASYNC).execute(attempt);
        }
    }
}
