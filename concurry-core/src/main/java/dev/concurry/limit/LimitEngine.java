package dev.concurry.limit;

import dev.concurry.time.MonotonicClock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The engine shared by the backends that run the algorithms in this JVM (SPEC "central idea"): the
 * state of every limit in one {@code double[]} run through {@link LimitMath}, a FIFO queue of waiters,
 * exact clock wake-ups and the {@link Acquisition} handle. A subclass supplies only atomicity and
 * storage: {@link #lockState()} / {@link #unlockState()} around every access to {@link #state}, and
 * a few hooks. The in-memory backend is a {@link ReentrantLock} around a plain array; the
 * shared-memory backend also takes a lock in a mapped file and publishes the changed doubles there.
 *
 * <p>Layout of {@link #state}: {@link #META} words of bookkeeping (grant sequence number and totals),
 * then whatever the subclass reserves, then the state of each limit at {@code limitsBase}.
 *
 * <p>Concurrency design. Every read or write of the state, the queue and the counters happens between
 * {@link #lockState()} and {@link #unlockState()}. Waiting never polls: when a waiter cannot be
 * granted, the algorithms say when it could be (for rate limits), and one clock wake-up is scheduled
 * for the earliest such moment; releases and refunds re-run {@link #dispatchLocked}. Fairness is per
 * key: a waiter that is short of a key blocks later waiters (and {@code tryAcquire}) on that key only
 * ({@link #contended}), so a large request is never starved by small ones, and a waiter for one key
 * never holds up a request for another. Threads are unparked and futures completed after the lock is
 * released; async futures are completed on a virtual thread, so user callbacks never run on the timer
 * thread or under the lock.
 */
abstract class LimitEngine implements LimitSet {
    private static final Executor COMPLETIONS = Executors.newVirtualThreadPerTaskExecutor();
    private static final int WAITING = 0;
    private static final int GRANTED = 1;
    private static final int TIMED_OUT = 2;
    private static final int WITHDRAWN = 3;
    private static final int CLOSED = 4;

    /** Index in {@link #state} of the last grant sequence number issued. */
    static final int SEQ = 0;
    /** Index of the number of grants (a double: exact up to 2^53). */
    static final int N_GRANTED = 1;
    static final int N_TIMED_OUT = 2;
    static final int N_REFUNDED = 3;
    static final int N_CHARGED = 4;
    /** Words of bookkeeping at the start of {@link #state}. */
    static final int META = 5;

    final LimitSetDefinition definition;
    final List<Limit> specs;
    final MonotonicClock clock;
    private final LimitBackend backend;
    final LimitMath[] math;
    /** The bookkeeping words, any subclass words, then every limit's state (see the class comment). */
    final double[] state;
    /** Clock reading at which the state's time is 0; guarded by the state lock. */
    long epoch;
    /**
     * Bit i set once limit i's state may have changed under the current lock (a backend that publishes
     * changes reads and clears it); guarded by the state lock.
     */
    long touched;

    // Everything below is guarded by the state lock.
    private Waiter head;
    private Waiter tail;
    private int waiting;
    /** Keys some queued waiter is short of: newcomers needing them queue behind it. */
    private long contended;
    private MonotonicClock.Wakeup wakeup;
    private long wakeupAt = Long.MAX_VALUE;
    private boolean closed;
    // Counted by this JVM only (the shared totals live in the state): failed tryAcquires, waiters
    // granted and their total wait, and settlements per key (units differ between keys).
    private long rejectedCount;
    private long waitsCount;
    private long waitedNanos;
    private final double[] refundedByKey;
    private final double[] chargedByKey;

    /**
     * Lays out the state: the limits' states start at {@code limitsBase} (at least {@link #META}).
     * The subclass sets {@link #epoch} and initialises or loads {@link #state}.
     */
    LimitEngine(LimitSetDefinition definition, MonotonicClock clock, LimitBackend backend, int limitsBase) {
        this.definition = definition;
        this.specs = definition.limits();
        this.clock = clock;
        this.backend = backend;
        this.math = new LimitMath[specs.size()];
        int size = limitsBase;
        for (int i = 0; i < math.length; i++) {
            math[i] = new LimitMath(specs.get(i), size);
            size += math[i].stateSize();
        }
        this.state = new double[size];
        this.refundedByKey = new double[math.length];
        this.chargedByKey = new double[math.length];
    }

    // ---- what a backend supplies -----------------------------------------------------------------

    /** Takes exclusive access to {@link #state} (and makes it current). */
    abstract void lockState();

    /** Publishes what changed under {@link #lockState()} and gives up exclusive access. */
    abstract void unlockState();

    /** A waiter was queued (under the state lock). */
    void waiterQueuedLocked() {
    }

    /** Resource permits of {@code p} were taken (under the state lock). */
    void resourcesTakenLocked(Prepared p) {
    }

    /** Resource permits of {@code p} were given back (under the state lock). */
    void resourcesReleasedLocked(Prepared p) {
    }

    /** A settle refunded units or released permits: waiters elsewhere may now be granted. */
    void freedLocked() {
    }

    /** Called once by {@link #close()} after the waiters were failed. */
    void closed() {
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
        return acquireBlocking(request, saturatedNanos(timeout));
    }

    @Override
    public Optional<Acquisition> tryAcquire(Request request) {
        // Kept this small so it inlines into the caller, where the Optional usually never escapes.
        return Optional.ofNullable(tryAcquireOrNull(request));
    }

    /** {@link #tryAcquire(Request)} without the {@link Optional}: the grant, or null if refused. */
    final Acquisition tryAcquireOrNull(Request request) {
        Prepared p = prepare(request);
        Acquisition fast = tryGrantFast(p);
        if (fast != null) {
            return fast;
        }
        lockState();
        try {
            checkOpen();
            Acquisition granted = tryGrantLocked(p);
            if (granted == null) {
                rejectedCount++;
            }
            return granted;
        } finally {
            unlockState();
        }
    }

    @Override
    public CompletableFuture<Acquisition> acquireAsync(Request request) {
        Prepared p;
        try {
            p = prepare(request);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Acquisition> future = new CompletableFuture<>();
        Waiter w = new Waiter(p, null, future);
        Waiter granted;
        lockState();
        try {
            if (closed) {
                return CompletableFuture.failedFuture(closedException());
            }
            Acquisition now = tryGrantLocked(p);
            if (now != null) {
                future.complete(now);
                return future;
            }
            enqueueLocked(w);
            granted = dispatchLocked();
        } finally {
            unlockState();
        }
        deliver(granted);
        future.whenComplete((acquisition, failure) -> {
            if (failure != null) {
                withdraw(w, failure instanceof TimeoutException);
            }
        });
        return future;
    }

    private Acquisition acquireBlocking(Request request, long timeoutNanos) {
        Prepared p = prepare(request);
        Acquisition fast = tryGrantFast(p);
        if (fast != null) {
            return fast;
        }
        Waiter w;
        Waiter granted;
        lockState();
        try {
            checkOpen();
            Acquisition now = tryGrantLocked(p);
            if (now != null) {
                return now;
            }
            if (timeoutNanos == 0) {
                state[N_TIMED_OUT]++;
                throw timeoutException(request, timeoutNanos);
            }
            w = new Waiter(p, Thread.currentThread(), null);
            enqueueLocked(w);
            granted = dispatchLocked();
            if (timeoutNanos > 0 && w.state == WAITING) {
                long deadline = clock.nanoTime() + timeoutNanos;
                w.deadline = clock.wakeAt(deadline, () -> expire(w));
            }
        } finally {
            unlockState();
        }
        deliver(granted);
        while (w.state == WAITING) {
            LockSupport.park(this);
            if (Thread.interrupted()) {
                withdraw(w, false);
                if (w.state == GRANTED) {
                    ((Grant) w.result).giveBack();
                }
                Thread.currentThread().interrupt();
                throw new AcquireInterruptedException("interrupted while waiting for " + request + " from set '"
                        + name() + "'; nothing was taken", new InterruptedException());
            }
        }
        return switch (w.state) {
            case GRANTED -> w.result;
            case TIMED_OUT -> throw timeoutException(request, timeoutNanos);
            default -> throw closedException();
        };
    }

    /**
     * A backend's lock-free grant for the common case, tried before taking the state lock; null to
     * take the locked path (which decides every refusal, so waiters and counters stay exact).
     */
    Acquisition tryGrantFast(Prepared p) {
        return null;
    }

    /** Grants made by {@link #tryGrantFast}, which are not in the state's counter. */
    long fastGrants() {
        return 0;
    }

    /** A handle for a grant made without the lock (no sequence number: only for limits that need none). */
    final Acquisition fastGrant(Prepared p, double now) {
        return new Grant(p, now, 0);
    }

    /** Whether the lock-free path may grant: open and nobody queued (guarded by the state lock). */
    final boolean mayGrantWithoutLockLocked() {
        return head == null && !closed;
    }

    /** Grants {@code p} now if no waiter is short of its keys and every limit allows it; else null. */
    private Acquisition tryGrantLocked(Prepared p) {
        if ((p.mask & contended) != 0) {
            return null;
        }
        touched |= p.touches;
        double now = now();
        int[] limits = p.limits;
        double[] amounts = p.amounts;
        for (int j = 0; j < limits.length; j++) {
            if (math[limits[j]].waitTime(state, now, amounts[j]) > 0) {
                return null;
            }
        }
        return commitLocked(p, now);
    }

    private Acquisition commitLocked(Prepared p, double now) {
        long seq = (long) ++state[SEQ];
        int[] limits = p.limits;
        double[] amounts = p.amounts;
        for (int j = 0; j < limits.length; j++) {
            math[limits[j]].commit(state, now, amounts[j], seq);
        }
        state[N_GRANTED]++;
        if (p.holdsResource) {
            resourcesTakenLocked(p);
        }
        return new Grant(p, now, seq);
    }

    // ---- the waiter queue ------------------------------------------------------------------------

    private void enqueueLocked(Waiter w) {
        w.since = now();
        if (tail == null) {
            head = w;
        } else {
            tail.next = w;
            w.prev = tail;
        }
        tail = w;
        waiting++;
        waiterQueuedLocked();
    }

    private void unlinkLocked(Waiter w) {
        if (w.prev == null) {
            head = w.next;
        } else {
            w.prev.next = w.next;
        }
        if (w.next == null) {
            tail = w.prev;
        } else {
            w.next.prev = w.prev;
        }
        w.prev = null;
        w.next = null;
        waiting--;
    }

    /**
     * Grants every waiter that can be granted, in FIFO order per key, and schedules one wake-up for
     * the earliest moment a remaining waiter could be. Returns the granted waiters (a chain through
     * {@link Waiter#nextGranted}) for {@link #deliver} to signal once the lock is released.
     */
    private Waiter dispatchLocked() {
        if (head == null) {
            contended = 0;
            return null;
        }
        double now = now();
        long blocked = 0;
        double earliest = Double.POSITIVE_INFINITY;
        Waiter grantedHead = null;
        Waiter grantedTail = null;
        for (Waiter w = head, next; w != null; w = next) {
            next = w.next;
            Prepared p = w.prepared;
            if ((p.mask & blocked) != 0) {
                continue;
            }
            touched |= p.touches;
            long shortOf = 0;
            double wait = 0;
            for (int j = 0; j < p.limits.length; j++) {
                double t = math[p.limits[j]].waitTime(state, now, p.amounts[j]);
                if (t > 0) {
                    shortOf |= 1L << p.limits[j];
                    wait = Math.max(wait, t);
                }
            }
            if (shortOf == 0) {
                unlinkLocked(w);
                w.result = commitLocked(p, now);
                w.state = GRANTED;
                waitsCount++;
                waitedNanos += (long) (now - w.since);
                if (grantedTail == null) {
                    grantedHead = w;
                } else {
                    grantedTail.nextGranted = w;
                }
                grantedTail = w;
            } else {
                blocked |= shortOf;
                earliest = Math.min(earliest, now + wait);
            }
        }
        contended = blocked;
        if (earliest != Double.POSITIVE_INFINITY) {
            long at = epoch + wakeInstant(now, earliest);
            if (at < wakeupAt) {
                if (wakeup != null) {
                    wakeup.cancel();
                }
                wakeupAt = at;
                wakeup = clock.wakeAt(at, this::onWakeup);
            }
        }
        return grantedHead;
    }

    private void onWakeup() {
        Waiter granted;
        lockState();
        try {
            wakeup = null;
            wakeupAt = Long.MAX_VALUE;
            granted = dispatchLocked();
        } finally {
            unlockState();
        }
        deliver(granted);
    }

    /** Signals granted waiters, outside the lock. */
    private static void deliver(Waiter w) {
        while (w != null) {
            Waiter next = w.nextGranted;
            w.nextGranted = null;
            if (w.deadline != null) {
                w.deadline.cancel();
            }
            signal(w);
            w = next;
        }
    }

    private static void signal(Waiter w) {
        if (w.thread != null) {
            LockSupport.unpark(w.thread);
        } else if (w.state == GRANTED) {
            Acquisition result = w.result;
            COMPLETIONS.execute(() -> {
                if (!w.future.complete(result)) {
                    ((Grant) result).giveBack();    // cancelled meanwhile: nothing may stay taken
                }
            });
        }
    }

    /** Timeout of a blocking waiter. */
    private void expire(Waiter w) {
        if (leave(w, TIMED_OUT, true)) {
            LockSupport.unpark(w.thread);
        }
    }

    /** A waiter gives up (interrupt, cancelled or failed future); its leaving may unblock others. */
    private void withdraw(Waiter w, boolean timedOut) {
        if (leave(w, WITHDRAWN, timedOut)) {
            MonotonicClock.Wakeup deadline = w.deadline;
            if (deadline != null) {
                deadline.cancel();
            }
        }
    }

    /**
     * Takes a still-waiting {@code w} out of the queue into {@code newState} and grants whoever its
     * leaving unblocks; false if it was no longer waiting (granted, timed out or closed meanwhile).
     */
    private boolean leave(Waiter w, int newState, boolean countTimeout) {
        Waiter granted;
        lockState();
        try {
            if (w.state != WAITING) {
                return false;
            }
            unlinkLocked(w);
            w.state = newState;
            if (countTimeout) {
                state[N_TIMED_OUT]++;
            }
            granted = dispatchLocked();
        } finally {
            unlockState();
        }
        deliver(granted);
        return true;
    }

    // ---- settling --------------------------------------------------------------------------------

    private void settle(Grant g) {
        Prepared p = g.prepared;
        double[] used = g.used;
        if (used == null && !p.holdsResource) {
            return;     // nothing to refund, charge or release: the common rate-only case takes no lock
        }
        Waiter granted = null;
        lockState();
        try {
            double now = now();
            touched |= p.touches;
            for (int j = 0; j < p.limits.length; j++) {
                LimitMath m = math[p.limits[j]];
                double amount = p.amounts[j];
                if (m.isResource()) {
                    m.release(state, amount);
                } else if (used != null && !Double.isNaN(used[j]) && used[j] != amount) {
                    m.settle(state, now, g.grantTime, g.seq, (long) state[SEQ], amount, used[j]);
                    if (used[j] < amount) {
                        state[N_REFUNDED] += amount - used[j];
                        refundedByKey[p.limits[j]] += amount - used[j];
                    } else {
                        state[N_CHARGED] += used[j] - amount;
                        chargedByKey[p.limits[j]] += used[j] - amount;
                    }
                }
            }
            if (p.holdsResource) {
                resourcesReleasedLocked(p);
            }
            if (p.holdsResource || refunds(p, used)) {
                freedLocked();
            }
            if (head != null) {
                granted = dispatchLocked();
            }
        } finally {
            unlockState();
        }
        deliver(granted);
    }

    private static boolean refunds(Prepared p, double[] used) {
        if (used != null) {
            for (int j = 0; j < used.length; j++) {
                if (used[j] < p.amounts[j]) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Re-runs the dispatch (the state may have changed elsewhere, in another process). Returns false,
     * doing nothing, once no waiter is queued, and then calls {@code whenIdle} under the lock.
     */
    final boolean redispatch(Runnable whenIdle) {
        Waiter granted;
        lockState();
        try {
            if (head == null) {
                whenIdle.run();
                return false;
            }
            granted = dispatchLocked();
        } finally {
            unlockState();
        }
        deliver(granted);
        return true;
    }

    // ---- stats and lifecycle ---------------------------------------------------------------------

    /**
     * For a {@link LimitPool}: the smallest fraction of capacity left once {@code request} would be
     * granted, over the limits it takes ({@code 1} when none); negative when it cannot be granted now;
     * {@link Double#NEGATIVE_INFINITY} when a waiter is short of one of those keys. A cheap, allocation-free
     * stand-in for reading {@link #stats()}; only a hint, {@code tryAcquire} decides.
     */
    double headroom(Request request) {
        Prepared p = prepare(request);
        lockState();
        try {
            if ((p.mask & contended) != 0) {
                return Double.NEGATIVE_INFINITY;
            }
            double now = now();
            double least = 1;
            for (int j = 0; j < p.limits.length; j++) {
                LimitMath m = math[p.limits[j]];
                if (p.amounts[j] > 0) {
                    least = Math.min(least, (m.available(state, now) - p.amounts[j]) / m.capacity);
                }
            }
            return least;
        } finally {
            unlockState();
        }
    }

    @Override
    public LimitStats stats() {
        lockState();
        try {
            double now = now();
            Map<String, LimitStats.KeyStats> keys = new LinkedHashMap<>();
            for (int i = 0; i < math.length; i++) {
                int waitingForKey = 0;
                for (Waiter w = head; w != null; w = w.next) {
                    if ((w.prepared.mask & (1L << i)) != 0) {
                        waitingForKey++;
                    }
                }
                Limit limit = specs.get(i);
                keys.put(limit.key(), new LimitStats.KeyStats(limit.key(), limit, limit.capacity(),
                        math[i].available(state, now), math[i].inUse(state, now), waitingForKey,
                        refundedByKey[i], chargedByKey[i]));
            }
            return new LimitStats(keys, (long) state[N_GRANTED] + fastGrants(), state[N_REFUNDED], state[N_CHARGED], (long) state[N_TIMED_OUT],
                    waiting, rejectedCount, waitsCount, waitedNanos);
        } finally {
            unlockState();
        }
    }

    @Override
    public void close() {
        Waiter failed = null;
        lockState();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (wakeup != null) {
                wakeup.cancel();
                wakeup = null;
            }
            while (head != null) {
                Waiter w = head;
                unlinkLocked(w);
                w.state = CLOSED;
                w.nextGranted = failed;
                failed = w;
            }
            contended = 0;
        } finally {
            unlockState();
        }
        closed();
        for (Waiter w = failed; w != null; w = w.nextGranted) {
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
        return "LimitSet[" + name() + ", " + backend.name() + ", " + specs + ", config=" + config() + "]";
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private Prepared prepare(Request request) {
        Objects.requireNonNull(request, "request");
        Object cached = request.cached(this);
        if (cached != null) {
            return (Prepared) cached;
        }
        Prepared p = Prepared.resolve(name(), specs, request);
        request.cache(this, p);
        return p;
    }

    final double now() {
        return clock.nanoTime() - epoch;
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

    /**
     * The whole nanosecond (since the epoch) at which to wake for a grant possible at {@code earliest}:
     * rounded up, but not past sub-nanosecond float noise (the algorithms accept it within their
     * tolerance), and always after {@code now} so a wake-up can never repeat at the same instant.
     */
    static long wakeInstant(double now, double earliest) {
        return Math.max((long) Math.ceil(earliest - 1e-6), (long) Math.floor(now) + 1);
    }

    static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** A queued acquirer: a parked thread (blocking) or a future (async). */
    private static final class Waiter {
        final Prepared prepared;
        final Thread thread;
        final CompletableFuture<Acquisition> future;
        Waiter prev;
        Waiter next;
        Waiter nextGranted;
        /** When it was queued (nanoseconds since the epoch), for {@link #waitedNanos}. */
        double since;
        volatile int state = WAITING;
        volatile Acquisition result;
        volatile MonotonicClock.Wakeup deadline;

        Waiter(Prepared prepared, Thread thread, CompletableFuture<Acquisition> future) {
            this.prepared = prepared;
            this.thread = thread;
            this.future = future;
        }
    }

    /** The handle of one grant. */
    private final class Grant implements Acquisition {
        final Prepared prepared;
        final double grantTime;
        final long seq;
        /** Actual usage per position of {@link Prepared#limits}, NaN where not updated; null if never. */
        volatile double[] used;
        /** 0 while open, 1 once closed; flipped once by {@link #close()} (CAS through {@link #RELEASED}). */
        private volatile int released;

        Grant(Prepared prepared, double grantTime, long seq) {
            this.prepared = prepared;
            this.grantTime = grantTime;
            this.seq = seq;
        }

        @Override
        public Acquisition update(String key, double usage) {
            return update(Map.of(Objects.requireNonNull(key, "key"), usage));
        }

        @Override
        public Acquisition update(Map<String, ? extends Number> usage) {
            Objects.requireNonNull(usage, "usage");
            int[] positions = new int[usage.size()];
            double[] values = new double[usage.size()];
            int k = 0;
            for (Map.Entry<String, ? extends Number> entry : usage.entrySet()) {
                String key = entry.getKey();
                int position = prepared.positionOf(specs, key);
                if (position < 0) {
                    throw new IllegalArgumentException("cannot update '" + key + "': not acquired here; acquired keys: "
                            + prepared.granted.keySet());
                }
                if (math[prepared.limits[position]].isResource()) {
                    throw new IllegalArgumentException("cannot update '" + key
                            + "': it is a ResourceLimit, whose permits are released on close, not settled");
                }
                Number n = entry.getValue();
                double value = n == null ? Double.NaN : n.doubleValue();
                if (Double.isNaN(value) || Double.isInfinite(value) || value < 0) {
                    throw new IllegalArgumentException("usage of '" + key + "' must be a finite number >= 0, got: " + n);
                }
                positions[k] = position;
                values[k] = value;
                k++;
            }
            if (released != 0) {
                throw new IllegalStateException("cannot update an acquisition that is already closed: " + this);
            }
            double[] current = used;
            double[] next = current == null ? newUsage() : current.clone();
            for (int i = 0; i < k; i++) {
                next[positions[i]] = values[i];
            }
            used = next;
            return this;
        }

        private double[] newUsage() {
            double[] usage = new double[prepared.limits.length];
            Arrays.fill(usage, Double.NaN);
            return usage;
        }

        /**
         * Undoes a grant nobody received (its waiter was interrupted or its future cancelled in the
         * meantime): rate limits are settled to zero use, so their units are refunded (a plain close
         * would let the requested amount stand, SPEC L13), and resource permits are released.
         */
        void giveBack() {
            used = new double[prepared.limits.length];
            close();
        }

        @Override
        public Map<String, String> config() {
            return definition.config();
        }

        @Override
        public Map<String, Double> granted() {
            return prepared.granted;
        }

        @Override
        public void close() {
            if (used == null && !prepared.holdsResource) {
                // Rate limits only, never updated: settling would do nothing, so no CAS is needed to
                // run it once. Marking it closed still makes a later update() fail; closing twice
                // stays harmless. (An update() racing with this close() was already lost before:
                // the settle that ran after the CAS saw no usage either.)
                RELEASED.setRelease(this, 1);
                return;
            }
            if (RELEASED.compareAndSet(this, 0, 1)) {
                settle(this);
            }
        }

        @Override
        public String toString() {
            return "Acquisition" + prepared.granted + " from " + name();
        }
    }

    private static final VarHandle RELEASED;

    static {
        try {
            RELEASED = MethodHandles.lookup().findVarHandle(Grant.class, "released", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
