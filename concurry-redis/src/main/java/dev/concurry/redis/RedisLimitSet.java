package dev.concurry.redis;

import dev.concurry.limit.AcquireInterruptedException;
import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitSetDefinition;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResolvedRequest;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.MonotonicClock;
import io.lettuce.core.ScriptOutputType;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A set whose state lives in Redis (SPEC L18); see {@link RedisBackend} for the user's view.
 *
 * <p>Concurrency design. The limits' state is only ever read and written by the script, atomically
 * on the server. This JVM keeps a FIFO queue of its waiters under {@link #lock}. One thread at a time
 * ({@link #dispatching}) sends the queue, in order, to the script in one call; the script grants what
 * it can, in order, per key (a waiter short of a key blocks later ones needing it, as in the
 * in-memory backend) and says how long the others must wait. The dispatcher then schedules one
 * wake-up for the earliest of those times; a release or refund (here, or in another JVM through the
 * set's pub/sub channel) dispatches again at once. Triggers arriving during a dispatch set
 * {@link #again}, so none is lost and no two calls for the same queue overlap.
 */
final class RedisLimitSet implements LimitSet {
    private static final Logger log = LoggerFactory.getLogger(RedisLimitSet.class);
    private static final Executor ASYNC = Executors.newVirtualThreadPerTaskExecutor();
    private static final int BATCH = 64;
    private static final int WAITING = 0;
    private static final int GRANTED = 1;
    private static final int TIMED_OUT = 2;
    private static final int WITHDRAWN = 3;
    private static final int CLOSED = 4;
    private static final int FAILED = 5;

    private final LimitSetDefinition definition;
    private final List<Limit> specs;
    private final RedisBackend backend;
    private final MonotonicClock clock;
    private final String[] keys;
    private final String signature;
    final String channel;
    private final String leaseNanos;
    private final ReentrantLock lock = new ReentrantLock();

    // Guarded by lock.
    private final ArrayDeque<Waiter> queue = new ArrayDeque<>();
    private long contended;
    private MonotonicClock.Wakeup wakeup;
    private long wakeupAt = Long.MAX_VALUE;
    private boolean dispatching;
    private boolean again;
    private boolean closed;
    private long timedOut;
    private boolean renewing;

    private final Set<Grant> leased = ConcurrentHashMap.newKeySet();
    private volatile long lastFailOpenWarning = Long.MIN_VALUE;

    RedisLimitSet(LimitSetDefinition definition, RedisBackend backend) {
        this.definition = definition;
        this.specs = definition.limits();
        this.backend = backend;
        this.clock = backend.clock();
        String tag = backend.keyPrefix() + "{" + definition.name() + "}";
        this.keys = new String[] {tag, tag + ":leases"};
        this.channel = tag + ":released";
        this.signature = LimitScript.signature(specs);
        this.leaseNanos = Long.toString(backend.lease().toNanos());
    }

    /** Creates the set in Redis, or checks that the one there has the same limits. */
    void init() {
        backend.eval(name(), ScriptOutputType.STATUS, keys, args("init"));
    }

    @Override
    public String name() {
        return definition.name();
    }

    @Override
    public List<Limit> limits() {
        return specs;
    }

    @Override
    public Map<String, String> config() {
        return definition.config();
    }

    @Override
    public LimitBackend backend() {
        return backend;
    }

    // ---- acquiring -------------------------------------------------------------------------------

    @Override
    public Acquisition acquire(Request request) {
        return acquireBlocking(request, -1);
    }

    @Override
    public Acquisition acquire(Request request, Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative, got: " + timeout);
        }
        long nanos;
        try {
            nanos = timeout.toNanos();
        } catch (ArithmeticException e) {
            nanos = Long.MAX_VALUE;
        }
        return acquireBlocking(request, nanos);
    }

    @Override
    public Optional<Acquisition> tryAcquire(Request request) {
        ResolvedRequest r = ResolvedRequest.resolve(this, request);
        lock.lock();
        try {
            checkOpen();
            if ((r.mask() & contended) != 0) {
                return Optional.empty();
            }
        } finally {
            lock.unlock();
        }
        String member = r.holdsResource() ? leaseMember(r) : "";
        List<Object> reply;
        try {
            reply = backend.eval(name(), ScriptOutputType.MULTI, keys, acquireArgs(List.of(r), List.of(member)));
        } catch (RedisUnavailableException e) {
            return Optional.of(failOpenOrThrow(r, e));
        }
        if (asLong(reply.get(2)) == 1) {
            return Optional.of(newGrant(r, reply.get(3), reply.get(4), member));
        }
        return Optional.empty();
    }

    @Override
    public CompletableFuture<Acquisition> acquireAsync(Request request) {
        ResolvedRequest r;
        try {
            r = ResolvedRequest.resolve(this, request);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Acquisition> future = new CompletableFuture<>();
        Waiter w = new Waiter(r, r.holdsResource() ? leaseMember(r) : "", null, future);
        lock.lock();
        try {
            if (closed) {
                return CompletableFuture.failedFuture(closedException());
            }
            queue.add(w);
        } finally {
            lock.unlock();
        }
        future.whenComplete((acquisition, failure) -> {
            if (failure != null) {
                withdraw(w, failure instanceof TimeoutException);
            }
        });
        if (backend.testClock()) {
            dispatch();
        } else {
            ASYNC.execute(this::dispatch);
        }
        return future;
    }

    private Acquisition acquireBlocking(Request request, long timeoutNanos) {
        ResolvedRequest r = ResolvedRequest.resolve(this, request);
        if (timeoutNanos == 0) {
            Optional<Acquisition> now = tryAcquire(request);
            if (now.isPresent()) {
                return now.get();
            }
            lock.lock();
            try {
                timedOut++;
            } finally {
                lock.unlock();
            }
            throw timeoutException(request, 0);
        }
        Waiter w = new Waiter(r, r.holdsResource() ? leaseMember(r) : "", Thread.currentThread(), null);
        lock.lock();
        try {
            checkOpen();
            queue.add(w);
        } finally {
            lock.unlock();
        }
        if (timeoutNanos > 0) {
            long deadline = clock.nanoTime() + timeoutNanos;
            if (deadline < 0) {
                deadline = Long.MAX_VALUE;
            }
            w.deadline = clock.wakeAt(deadline, () -> expire(w));
        }
        dispatch();
        while (w.state == WAITING) {
            LockSupport.park(this);
            if (Thread.interrupted()) {
                withdraw(w, false);
                if (w.state == GRANTED) {
                    w.result.abandon();
                }
                Thread.currentThread().interrupt();
                throw new AcquireInterruptedException("interrupted while waiting for " + request + " from set '"
                        + name() + "'; nothing was taken", new InterruptedException());
            }
        }
        return switch (w.state) {
            case GRANTED -> w.result;
            case TIMED_OUT -> throw timeoutException(request, timeoutNanos);
            case FAILED -> {
                if (w.failure instanceof RedisUnavailableException e) {
                    yield failOpenOrThrow(r, new RedisUnavailableException(e.getMessage(), e));
                }
                throw w.failure;
            }
            default -> throw closedException();
        };
    }

    // ---- the dispatcher --------------------------------------------------------------------------

    /** Sends the waiting queue to the script until nothing more changes; see the class comment. */
    private void dispatch() {
        lock.lock();
        try {
            if (dispatching) {
                again = true;
                return;
            }
            dispatching = true;
        } finally {
            lock.unlock();
        }
        boolean done = false;
        try {
            while (!done) {
                done = dispatchOnce();
            }
        } finally {
            if (!done) {
                lock.lock();
                try {
                    dispatching = false;
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /** One round trip for up to {@link #BATCH} waiters; true when the dispatcher may stop. */
    private boolean dispatchOnce() {
        List<Waiter> batch = new ArrayList<>();
        lock.lock();
        try {
            again = false;
            for (Waiter w : queue) {
                if (batch.size() == BATCH) {
                    break;
                }
                batch.add(w);
            }
            if (batch.isEmpty()) {
                contended = 0;
                dispatching = false;
                return true;
            }
        } finally {
            lock.unlock();
        }
        List<ResolvedRequest> requests = new ArrayList<>(batch.size());
        List<String> members = new ArrayList<>(batch.size());
        for (Waiter w : batch) {
            requests.add(w.request);
            members.add(w.member);
        }
        long sent = clock.nanoTime();
        List<Object> reply;
        try {
            reply = backend.eval(name(), ScriptOutputType.MULTI, keys, acquireArgs(requests, members));
        } catch (RuntimeException e) {
            failAll(batch, e);
            return finishRound();
        }
        long base = backend.testClock() ? sent : clock.nanoTime();
        List<Waiter> granted = new ArrayList<>();
        List<Grant> abandoned = new ArrayList<>();
        lock.lock();
        try {
            long shortOf = 0;
            double earliest = Double.POSITIVE_INFINITY;
            boolean shortOfResource = false;
            boolean anyGranted = false;
            for (int i = 0; i < batch.size(); i++) {
                Waiter w = batch.get(i);
                long flag = asLong(reply.get(2 + 3 * i));
                if (flag == 1) {
                    anyGranted = true;
                    Grant g = newGrant(w.request, reply.get(3 + 3 * i), reply.get(4 + 3 * i), w.member);
                    if (w.state == WAITING) {
                        queue.remove(w);
                        w.result = g;
                        w.state = GRANTED;
                        granted.add(w);
                    } else {
                        abandoned.add(g);   // it gave up while the script ran: give the units back
                    }
                } else if (flag == 0) {
                    double wait = Double.parseDouble((String) reply.get(3 + 3 * i));
                    for (String index : ((String) reply.get(4 + 3 * i)).split(",")) {
                        int k = Integer.parseInt(index);
                        if (w.state == WAITING) {
                            shortOf |= 1L << k;
                        }
                        shortOfResource |= specs.get(k) instanceof ResourceLimit;
                    }
                    if (wait != Double.POSITIVE_INFINITY) {
                        earliest = Math.min(earliest, wait);
                    }
                }
            }
            contended = shortOf;
            if (shortOfResource) {
                String leaseWait = (String) reply.get(1);
                // A permit comes back on release (we are notified) or when a lease expires (not notified).
                double untilLease = leaseWait.isEmpty() ? backend.lease().toNanos() / 3.0
                        : Math.max(0, Double.parseDouble(leaseWait)) + 1_000_000;
                earliest = Math.min(earliest, untilLease);
            }
            if (earliest != Double.POSITIVE_INFINITY && !queue.isEmpty()) {
                long at = base + (long) Math.ceil(earliest);
                if (at - clock.nanoTime() <= 0) {
                    again = true;   // already due (time moved during the round trip): try again now
                } else if (at < wakeupAt) {
                    if (wakeup != null) {
                        wakeup.cancel();
                    }
                    wakeupAt = at;
                    wakeup = clock.wakeAt(at, this::onWakeup);
                }
            }
            if (anyGranted && batch.size() == BATCH) {
                again = true;
            }
        } finally {
            lock.unlock();
        }
        for (Waiter w : granted) {
            signal(w);
        }
        for (Grant g : abandoned) {
            g.abandon();
        }
        return finishRound();
    }

    private boolean finishRound() {
        lock.lock();
        try {
            if (again) {
                return false;
            }
            dispatching = false;
            return true;
        } finally {
            lock.unlock();
        }
    }

    private void failAll(List<Waiter> batch, RuntimeException e) {
        List<Waiter> failed = new ArrayList<>();
        lock.lock();
        try {
            for (Waiter w : batch) {
                if (w.state == WAITING) {
                    queue.remove(w);
                    w.state = FAILED;
                    w.failure = e;
                    failed.add(w);
                }
            }
        } finally {
            lock.unlock();
        }
        for (Waiter w : failed) {
            if (w.deadline != null) {
                w.deadline.cancel();
            }
            if (w.thread != null) {
                LockSupport.unpark(w.thread);
            } else if (e instanceof RedisUnavailableException u && backend.failOpen()) {
                w.future.complete(failOpenOrThrow(w.request, u));
            } else {
                w.future.completeExceptionally(e);
            }
        }
    }

    private void onWakeup() {
        lock.lock();
        try {
            wakeup = null;
            wakeupAt = Long.MAX_VALUE;
        } finally {
            lock.unlock();
        }
        wake();
    }

    /** A release or refund happened in another JVM (or this one): waiters may now be granted. */
    void onRemoteRelease() {
        if (hasWaiters()) {
            ASYNC.execute(this::dispatch);
        }
    }

    private void wake() {
        if (!hasWaiters()) {
            return;
        }
        if (backend.testClock()) {
            dispatch();     // on the thread advancing the test clock, so that advancing is exact
        } else {
            ASYNC.execute(this::dispatch);
        }
    }

    private boolean hasWaiters() {
        lock.lock();
        try {
            return !queue.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    private static void signal(Waiter w) {
        if (w.deadline != null) {
            w.deadline.cancel();
        }
        if (w.thread != null) {
            LockSupport.unpark(w.thread);
        } else {
            Grant result = w.result;
            ASYNC.execute(() -> {
                if (!w.future.complete(result)) {
                    result.abandon();   // cancelled meanwhile: nothing taken
                }
            });
        }
    }

    /** Timeout of a blocking waiter. */
    private void expire(Waiter w) {
        lock.lock();
        try {
            if (w.state != WAITING) {
                return;
            }
            queue.remove(w);
            w.state = TIMED_OUT;
            timedOut++;
        } finally {
            lock.unlock();
        }
        LockSupport.unpark(w.thread);
        wake();     // its leaving may unblock others
    }

    private void withdraw(Waiter w, boolean timedOutNow) {
        lock.lock();
        try {
            if (w.state != WAITING) {
                return;
            }
            queue.remove(w);
            w.state = WITHDRAWN;
            if (timedOutNow) {
                timedOut++;
            }
        } finally {
            lock.unlock();
        }
        if (w.deadline != null) {
            w.deadline.cancel();
        }
        wake();
    }

    // ---- grants, settling and leases ---------------------------------------------------------------

    private Grant newGrant(ResolvedRequest r, Object seq, Object grantTime, String member) {
        Grant g = new Grant(r, asLong(seq), (String) grantTime, member.isEmpty() ? null : member);
        if (g.member != null) {
            leased.add(g);
            scheduleRenewal();
        }
        return g;
    }

    private void settle(Grant g, double[] used) {
        if (g.member != null) {
            leased.remove(g);
        }
        StringBuilder rates = new StringBuilder();
        if (used != null) {
            for (int j = 0; j < g.request.size(); j++) {
                int index = g.request.limitIndex(j);
                double amount = g.request.amount(j);
                if (!(specs.get(index) instanceof ResourceLimit) && !Double.isNaN(used[j]) && used[j] != amount) {
                    rates.append(index).append('=').append(amount).append(':').append(used[j]).append(';');
                }
            }
        }
        if (rates.isEmpty() && g.member == null) {
            return;     // nothing to refund, charge or release: no round trip
        }
        try {
            Long result = backend.eval(name(), ScriptOutputType.INTEGER, keys,
                    args("settle", g.grantTime, Long.toString(g.seq), rates.toString(), g.member == null ? "" : g.member));
            if (result == 0) {
                backend.leaseExpired();
                log.warn("the lease on {} of limit set '{}' had expired before it was released (held longer than the"
                        + " lease of {} without renewal: a long pause or lost connection); its permits were already"
                        + " reclaimed and are not released twice", g.request.granted(), name(), backend.lease());
            }
        } catch (RuntimeException e) {
            log.warn("could not settle {} of limit set '{}' ({}); resource permits come back when their lease expires",
                    g.request.granted(), name(), e.getMessage());
            return;
        }
        wake();
    }

    private void scheduleRenewal() {
        lock.lock();
        try {
            if (renewing) {
                return;
            }
            renewing = true;
        } finally {
            lock.unlock();
        }
        clock.wakeAt(clock.nanoTime() + backend.lease().toNanos() / 3, this::renewLeases);
    }

    /** Renews every lease held here, in one call, then reschedules itself while leases remain. */
    private void renewLeases() {
        List<Grant> held = new ArrayList<>(leased);
        if (held.isEmpty() || backend.isClosed()) {
            lock.lock();
            try {
                renewing = false;
            } finally {
                lock.unlock();
            }
            if (!leased.isEmpty() && !backend.isClosed()) {
                scheduleRenewal();
            }
            return;
        }
        List<String> args = new ArrayList<>(List.of(args("renew")));
        held.forEach(g -> args.add(g.member));
        try {
            backend.<List<Object>>evalAsync(name(), ScriptOutputType.MULTI, keys, args.toArray(String[]::new))
                    .whenComplete((reply, failure) -> {
                        if (failure != null) {
                            log.warn("could not renew {} lease(s) of limit set '{}': {}", held.size(), name(),
                                    failure.getMessage());
                            return;
                        }
                        for (int i = 0; i < held.size(); i++) {
                            Grant g = held.get(i);
                            if (asLong(reply.get(i)) == 0 && leased.contains(g) && !g.leaseLost) {
                                g.leaseLost = true;
                                log.warn("the lease on {} of limit set '{}' expired before it could be renewed; its"
                                        + " permits were reclaimed", g.request.granted(), name());
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

    // ---- stats and lifecycle ---------------------------------------------------------------------

    @Override
    public LimitStats stats() {
        List<Object> reply = backend.eval(name(), ScriptOutputType.MULTI, keys, args("stats"));
        int[] waitingFor = new int[specs.size()];
        int waiting;
        long timedOutNow;
        lock.lock();
        try {
            waiting = queue.size();
            for (Waiter w : queue) {
                for (int i = 0; i < specs.size(); i++) {
                    if ((w.request.mask() & (1L << i)) != 0) {
                        waitingFor[i]++;
                    }
                }
            }
            timedOutNow = timedOut;
        } finally {
            lock.unlock();
        }
        Map<String, LimitStats.KeyStats> byKey = new LinkedHashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            Limit limit = specs.get(i);
            byKey.put(limit.key(), new LimitStats.KeyStats(limit.key(), limit, limit.capacity(),
                    Double.parseDouble((String) reply.get(3 + 2 * i)), Double.parseDouble((String) reply.get(4 + 2 * i)),
                    waitingFor[i]));
        }
        return new LimitStats(byKey, Long.parseLong((String) reply.get(0)), Double.parseDouble((String) reply.get(1)),
                Double.parseDouble((String) reply.get(2)), timedOutNow, waiting);
    }

    @Override
    public void close() {
        List<Waiter> failed = new ArrayList<>();
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (wakeup != null) {
                wakeup.cancel();
                wakeup = null;
            }
            for (Waiter w : queue) {
                w.state = CLOSED;
                failed.add(w);
            }
            queue.clear();
            contended = 0;
        } finally {
            lock.unlock();
        }
        backend.forget(this);
        for (Waiter w : failed) {
            if (w.deadline != null) {
                w.deadline.cancel();
            }
            if (w.thread != null) {
                LockSupport.unpark(w.thread);
            } else {
                w.future.completeExceptionally(closedException());
            }
        }
    }

    @Override
    public String toString() {
        return "LimitSet[" + name() + ", redis " + keys[0] + ", " + specs + ", config=" + config() + "]";
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private String[] args(String op, String... rest) {
        String[] all = new String[5 + rest.length];
        all[0] = op;
        all[1] = backend.timeArgument();
        all[2] = signature;
        all[3] = leaseNanos;
        all[4] = channel;
        System.arraycopy(rest, 0, all, 5, rest.length);
        return all;
    }

    private String[] acquireArgs(List<ResolvedRequest> requests, List<String> members) {
        String[] rest = new String[1 + 2 * requests.size()];
        rest[0] = Integer.toString(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            rest[1 + 2 * i] = encode(requests.get(i));
            rest[2 + 2 * i] = members.get(i);
        }
        return args("acquire", rest);
    }

    /** {@code "<limit index>=<amount>;..."}; amounts as {@link Double#toString}, exact for Lua. */
    static String encode(ResolvedRequest r) {
        StringBuilder text = new StringBuilder();
        for (int j = 0; j < r.size(); j++) {
            text.append(r.limitIndex(j)).append('=').append(r.amount(j)).append(';');
        }
        return text.toString();
    }

    private Acquisition failOpenOrThrow(ResolvedRequest r, RedisUnavailableException e) {
        if (!backend.failOpen()) {
            throw e;
        }
        long now = System.nanoTime();
        if (now - lastFailOpenWarning > 10_000_000_000L || lastFailOpenWarning == Long.MIN_VALUE) {
            lastFailOpenWarning = now;
            log.warn("granting {} from limit set '{}' without limits (fail-open): {}", r.granted(), name(),
                    e.getMessage());
        }
        return new Unlimited(r);
    }

    private static long asLong(Object value) {
        return value instanceof Long l ? l : Long.parseLong(String.valueOf(value));
    }

    private void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("LimitSet '" + name() + "' is closed");
    }

    private AcquireTimeoutException timeoutException(Request request, long timeoutNanos) {
        return new AcquireTimeoutException("could not acquire " + request + " from set '" + name() + "' within "
                + Duration.ofNanos(timeoutNanos) + "; nothing was taken");
    }

    private final class Waiter {
        final ResolvedRequest request;
        final String member;
        final Thread thread;
        final CompletableFuture<Acquisition> future;
        volatile int state = WAITING;
        volatile Grant result;
        volatile RuntimeException failure;
        volatile MonotonicClock.Wakeup deadline;

        Waiter(ResolvedRequest request, String member, Thread thread, CompletableFuture<Acquisition> future) {
            this.request = request;
            this.member = member;
            this.thread = thread;
            this.future = future;
        }
    }

    /** Checks an update the same way for every kind of acquisition of this set. */
    private double[] merge(ResolvedRequest r, double[] current, Map<String, ? extends Number> usage) {
        Objects.requireNonNull(usage, "usage");
        double[] next = current == null ? nanArray(r.size()) : current.clone();
        for (Map.Entry<String, ? extends Number> entry : usage.entrySet()) {
            String key = entry.getKey();
            int position = r.positionOf(specs, key);
            if (position < 0) {
                throw new IllegalArgumentException("cannot update '" + key + "': not acquired here; acquired keys: "
                        + r.granted().keySet());
            }
            if (specs.get(r.limitIndex(position)) instanceof ResourceLimit) {
                throw new IllegalArgumentException("cannot update '" + key
                        + "': it is a ResourceLimit, whose permits are released on close, not settled");
            }
            Number n = entry.getValue();
            double value = n == null ? Double.NaN : n.doubleValue();
            if (Double.isNaN(value) || Double.isInfinite(value) || value < 0) {
                throw new IllegalArgumentException("usage of '" + key + "' must be a finite number >= 0, got: " + n);
            }
            next[position] = value;
        }
        return next;
    }

    private static double[] nanArray(int size) {
        double[] a = new double[size];
        Arrays.fill(a, Double.NaN);
        return a;
    }

    /** The handle of one grant; {@link #grantTime} is the script's time of the grant (ns since the set's epoch). */
    final class Grant implements Acquisition {
        final ResolvedRequest request;
        final long seq;
        final String grantTime;
        final String member;
        final AtomicBoolean released = new AtomicBoolean();
        volatile double[] used;
        volatile boolean leaseLost;

        Grant(ResolvedRequest request, long seq, String grantTime, String member) {
            this.request = request;
            this.seq = seq;
            this.grantTime = grantTime;
            this.member = member;
        }

        @Override
        public Acquisition update(String key, double usage) {
            return update(Map.of(Objects.requireNonNull(key, "key"), usage));
        }

        @Override
        public Acquisition update(Map<String, ? extends Number> usage) {
            double[] next = merge(request, used, usage);
            if (released.get()) {
                throw new IllegalStateException("cannot update an acquisition that is already closed: " + this);
            }
            used = next;
            return this;
        }

        @Override
        public Map<String, String> config() {
            return definition.config();
        }

        @Override
        public Map<String, Double> granted() {
            return request.granted();
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                settle(this, used);
            }
        }

        /** Gives everything back, as if never granted (its acquirer left while it was being granted). */
        void abandon() {
            if (released.compareAndSet(false, true)) {
                double[] zero = new double[request.size()];
                settle(this, zero);
            }
        }

        @Override
        public String toString() {
            return "Acquisition" + request.granted() + " from " + name();
        }
    }

    /** Granted without Redis (fail-open): checks updates, takes and gives back nothing. */
    private final class Unlimited implements Acquisition {
        final ResolvedRequest request;
        volatile double[] used;

        Unlimited(ResolvedRequest request) {
            this.request = request;
        }

        @Override
        public Acquisition update(String key, double usage) {
            return update(Map.of(Objects.requireNonNull(key, "key"), usage));
        }

        @Override
        public Acquisition update(Map<String, ? extends Number> usage) {
            used = merge(request, used, usage);
            return this;
        }

        @Override
        public Map<String, String> config() {
            return definition.config();
        }

        @Override
        public Map<String, Double> granted() {
            return request.granted();
        }

        @Override
        public void close() {
        }

        @Override
        public String toString() {
            return "Acquisition" + request.granted() + " from " + name() + " (fail-open, not counted)";
        }
    }
}
