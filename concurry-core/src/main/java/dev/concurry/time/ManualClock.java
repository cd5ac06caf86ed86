package dev.concurry.time;

import java.time.Duration;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A clock that moves only when told to: for tests that must be exact and instant (no sleeps).
 *
 * <p>{@link #advance(Duration)} steps through every scheduled wake-up in time order: the clock is set
 * to each wake-up's deadline before its action runs, so a waiter due at 2 s sees exactly 2 s even when
 * the test advances by 10 s at once. Actions run on the advancing thread.
 *
 * <pre>{@code
 * ManualClock clock = new ManualClock();          // starts at 0
 * clock.advance(Duration.ofSeconds(1));            // runs what was due by 1 s, in order
 * assert clock.nanoTime() == 1_000_000_000L;
 * }</pre>
 *
 * <p>Thread-safe: any thread may read it; advancing is serialised.
 */
public final class ManualClock implements MonotonicClock {
    private final ReentrantLock advancing = new ReentrantLock();
    private final Object queueLock = new Object();
    private final PriorityQueue<Scheduled> queue = new PriorityQueue<>();
    private volatile long now;
    private long sequence;

    /** A clock that reads 0. */
    public ManualClock() {
        this(0);
    }

    /** A clock that reads {@code startNanos}. */
    public ManualClock(long startNanos) {
        this.now = startNanos;
    }

    @Override
    public long nanoTime() {
        return now;
    }

    @Override
    public Wakeup wakeAt(long deadlineNanos, Runnable action) {
        Objects.requireNonNull(action, "action");
        Scheduled scheduled;
        synchronized (queueLock) {
            scheduled = new Scheduled(deadlineNanos, sequence++, action);
            queue.add(scheduled);
        }
        return scheduled;
    }

    /**
     * Moves the clock forward by {@code amount}, running every wake-up due on the way, in order. The
     * clock cannot pass {@code Long.MAX_VALUE} nanoseconds.
     */
    public void advance(Duration amount) {
        Objects.requireNonNull(amount, "amount");
        if (amount.isNegative()) {
            throw new IllegalArgumentException("a monotonic clock cannot go back: amount=" + amount);
        }
        if (amount.compareTo(Duration.ofNanos(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("amount must be at most Long.MAX_VALUE nanoseconds, got: " + amount);
        }
        advanceNanos(amount.toNanos());
    }

    /** Moves the clock forward by {@code nanos} (≥ 0), running every wake-up due on the way. */
    public void advanceNanos(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("a monotonic clock cannot go back: nanos=" + nanos);
        }
        advancing.lock();
        try {
            if (now > 0 && nanos > Long.MAX_VALUE - now) {
                throw new IllegalArgumentException("advancing by " + nanos + " ns from " + now
                        + " ns would pass Long.MAX_VALUE nanoseconds");
            }
            long target = now + nanos;
            while (true) {
                Scheduled next;
                synchronized (queueLock) {
                    next = queue.peek();
                    if (next == null || next.deadline > target) {
                        break;
                    }
                    queue.poll();
                }
                if (next.deadline > now) {
                    now = next.deadline;
                }
                if (!next.cancelled) {
                    next.action.run();
                }
            }
            now = target;
        } finally {
            advancing.unlock();
        }
    }

    /** Runs the wake-ups already due without moving the clock. */
    public void runDue() {
        advanceNanos(0);
    }

    /** How many wake-ups are scheduled and not cancelled. */
    public int pendingWakeups() {
        synchronized (queueLock) {
            return (int) queue.stream().filter(s -> !s.cancelled).count();
        }
    }

    @Override
    public String toString() {
        return "ManualClock[" + now + " ns]";
    }

    private final class Scheduled implements Wakeup, Comparable<Scheduled> {
        final long deadline;
        final long order;
        final Runnable action;
        volatile boolean cancelled;

        Scheduled(long deadline, long order, Runnable action) {
            this.deadline = deadline;
            this.order = order;
            this.action = action;
        }

        @Override
        public void cancel() {
            cancelled = true;
            synchronized (queueLock) {
                queue.remove(this);
            }
        }

        @Override
        public int compareTo(Scheduled other) {
            int byTime = Long.compare(deadline, other.deadline);
            return byTime != 0 ? byTime : Long.compare(order, other.order);
        }
    }
}
