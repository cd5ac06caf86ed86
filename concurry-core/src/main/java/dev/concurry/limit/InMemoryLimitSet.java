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
 * The in-memory backend (SPEC L16): the state of every limit in one {@code double[]}, one
 * {@link ReentrantLock} per set (never {@code synchronized}, so virtual threads do not pin), and a
 * FIFO queue of waiters.
 *
 * <p>Concurrency design. Every read or write of the state, the queue and the counters happens under
 * {@link #lock}. Waiting never polls: when a waiter cannot be granted, the algorithms say when it
 * could be (for rate limits), and one clock wake-up is scheduled for the earliest such moment;
 * releases and refunds re-run {@link #dispatchLocked}. Fairness is per key: a waiter that is short of
 * a key blocks later waiters (and {@code tryAcquire}) on that key only ({@link #contended}), so a large
 * request is never starved by small ones, and a waiter for one key never holds up a request for
 * another. Threads are unparked and futures completed after the lock is released; async futures are
 * completed on a virtual thread, so user callbacks never run on the timer thread or under the lock.
 */
final class InMemoryLimitSet implements LimitSet {
    private static final Executor COMPLETIONS = Executors.newVirtualThreadPerTaskExecutor();
    private static final int WAITING = 0;
    private static final int GRANTED = 1;
    private static final int TIMED_OUT = 2;
    private static final int WITHDRAWN = 3;
    private static final int CLOSED = 4;

    private final LimitSetDefinition definition;
    private final List<Limit> specs;
    private final MonotonicClock clock;
    private final LimitBackend backend;
    private final long epoch;
    private final LimitMath[] math;
    private final ReentrantLock lock = new ReentrantLock();

    // Everything below is guarded by lock.
    private final double[] state;
    private long sequence;
    private long grantedCount;
    private long timedOutCount;
    private double refundedUnits;
    private double chargedUnits;
    /** Per limit index, like {@link #refundedUnits} and {@link #chargedUnits} but for one key. */
    private final double[] refundedByKey;
    private final double[] chargedByKey;
    private long rejectedCount;
    private long waitsCount;
    private long waitedNanos;
    private Waiter head;
    private Waiter tail;
    private int waiting;
    /** Keys some queued waiter is short of: newcomers needing them queue behind it. */
    private long contended;
    private MonotonicClock.Wakeup wakeup;
    private long wakeupAt = Long.MAX_VALUE;
    private boolean closed;

    InMemoryLimitSet(LimitSetDefinition definition, MonotonicClock clock, LimitBackend backend) {
        this.definition = definition;
        this.specs = definition.limits();
        this.clock = clock;
        this.backend = backend;
        this.epoch = clock.nanoTime();
        this.math = new LimitMath[specs.size()];
        int size = 0;
        for (int i = 0; i < math.length; i++) {
            math[i] = new LimitMath(specs.get(i), size);
            size += math[i].stateSize();
        }
        this.state = new double[size];
        this.refundedByKey = new double[math.length];
        this.chargedByKey = new double[math.length];
        for (LimitMath m : math) {
            m.init(state, 0);
        }
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
        Prepared p = prepare(request);
        lock.lock();
        try {
            checkOpen();
            Acquisition granted = tryGrantLocked(p);
            if (granted == null) {
                rejectedCount++;
                return Optional.empty();
            }
            return Optional.of(granted);
        } finally {
            lock.unlock();
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
        lock.lock();
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
            lock.unlock();
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
        Waiter w;
        Waiter granted;
        lock.lock();
        try {
            checkOpen();
            Acquisition now = tryGrantLocked(p);
            if (now != null) {
                return now;
            }
            if (timeoutNanos == 0) {
                timedOutCount++;
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
            lock.unlock();
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

    /** Grants {@code p} now if no waiter is short of its keys and every limit allows it; else null. */
    private Acquisition tryGrantLocked(Prepared p) {
        if ((p.mask & contended) != 0) {
            return null;
        }
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
        long seq = ++sequence;
        int[] limits = p.limits;
        double[] amounts = p.amounts;
        for (int j = 0; j < limits.length; j++) {
            math[limits[j]].commit(state, now, amounts[j], seq);
        }
        grantedCount++;
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
        lock.lock();
        try {
            wakeup = null;
            wakeupAt = Long.MAX_VALUE;
            granted = dispatchLocked();
        } finally {
            lock.unlock();
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
        Waiter granted;
        lock.lock();
        try {
            if (w.state != WAITING) {
                return;
            }
            unlinkLocked(w);
            w.state = TIMED_OUT;
            timedOutCount++;
            granted = dispatchLocked();
        } finally {
            lock.unlock();
        }
        LockSupport.unpark(w.thread);
        deliver(granted);
    }

    /** A waiter gives up (interrupt, cancelled or failed future); its leaving may unblock others. */
    private void withdraw(Waiter w, boolean timedOut) {
        Waiter granted;
        lock.lock();
        try {
            if (w.state != WAITING) {
                return;
            }
            unlinkLocked(w);
            w.state = WITHDRAWN;
            if (timedOut) {
                timedOutCount++;
            }
            granted = dispatchLocked();
        } finally {
            lock.unlock();
        }
        if (w.deadline != null) {
            w.deadline.cancel();
        }
        deliver(granted);
    }

    // ---- settling --------------------------------------------------------------------------------

    private void settle(Grant g) {
        Prepared p = g.prepared;
        double[] used = g.used;
        if (used == null && !p.holdsResource) {
            return;     // nothing to refund, charge or release: the common rate-only case takes no lock
        }
        Waiter granted = null;
        lock.lock();
        try {
            double now = now();
            for (int j = 0; j < p.limits.length; j++) {
                LimitMath m = math[p.limits[j]];
                double amount = p.amounts[j];
                if (m.isResource()) {
                    m.release(state, amount);
                } else if (used != null && !Double.isNaN(used[j]) && used[j] != amount) {
                    m.settle(state, now, g.grantTime, g.seq, sequence, amount, used[j]);
                    if (used[j] < amount) {
                        refundedUnits += amount - used[j];
                        refundedByKey[p.limits[j]] += amount - used[j];
                    } else {
                        chargedUnits += used[j] - amount;
                        chargedByKey[p.limits[j]] += used[j] - amount;
                    }
                }
            }
            if (head != null) {
                granted = dispatchLocked();
            }
        } finally {
            lock.unlock();
        }
        deliver(granted);
    }

    // ---- stats and lifecycle ---------------------------------------------------------------------

    @Override
    public LimitStats stats() {
        lock.lock();
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
            return new LimitStats(keys, grantedCount, refundedUnits, chargedUnits, timedOutCount, waiting,
                    rejectedCount, waitsCount, waitedNanos);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        Waiter failed = null;
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
            while (head != null) {
                Waiter w = head;
                unlinkLocked(w);
                w.state = CLOSED;
                w.nextGranted = failed;
                failed = w;
            }
            contended = 0;
        } finally {
            lock.unlock();
        }
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

    private double now() {
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
        /** When it was queued (nanoseconds since {@link #epoch}), for {@link #waitedNanos}. */
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
