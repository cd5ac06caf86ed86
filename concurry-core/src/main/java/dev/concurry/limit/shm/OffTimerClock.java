package dev.concurry.limit.shm;

import dev.concurry.time.MonotonicClock;

/**
 * The system clock, except that wake-up actions run on their own virtual threads instead of the timer
 * thread that every set of the JVM shares. A shared-memory set's wake-ups (a waiter's timeout, the
 * moment a waiter can be granted) decide again, which takes the file's lock; a peer paused inside
 * that lock must not stall the timeouts of every other set in the JVM. Timing is unchanged: the
 * timer still fires each action at its deadline.
 */
final class OffTimerClock implements MonotonicClock {
    private final MonotonicClock clock;

    OffTimerClock(MonotonicClock clock) {
        this.clock = clock;
    }

    @Override
    public long nanoTime() {
        return clock.nanoTime();
    }

    @Override
    public Wakeup wakeAt(long deadlineNanos, Runnable action) {
        return clock.wakeAt(deadlineNanos, () -> Thread.ofVirtual().name("concurry-shm-wakeup").start(action));
    }

    @Override
    public String toString() {
        return clock + " (wake-ups on their own threads)";
    }
}
