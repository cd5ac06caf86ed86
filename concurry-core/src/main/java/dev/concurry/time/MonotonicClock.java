package dev.concurry.time;

/**
 * The one source of time of a limiter backend (SPEC L7): a monotonic nanosecond counter plus the
 * ability to run an action once that counter reaches a given value.
 *
 * <p>Backends never read the wall clock, so wall-clock jumps change nothing. Production code uses
 * {@link #system()}; tests use a {@link ManualClock}, which makes every timing decision exact and
 * instant:
 *
 * <pre>{@code
 * ManualClock clock = new ManualClock();
 * LimitSet limits = LimitSet.builder()
 *         .add(RateLimit.of("requests", 2, Duration.ofSeconds(1)))
 *         .backend(Backends.inMemory(clock))
 *         .build();
 * clock.advance(Duration.ofMillis(500));   // wakes every waiter due by then, in time order
 * }</pre>
 */
public interface MonotonicClock {

    /** The current time in nanoseconds; only differences between two readings are meaningful. */
    long nanoTime();

    /**
     * Runs {@code action} once {@link #nanoTime()} has reached {@code deadlineNanos} (at once if it
     * already has). The action runs on a timer thread (system clock) or on the thread that advances
     * a manual clock; it must be short and must not block.
     *
     * @return a handle that cancels the action if it has not run yet
     */
    Wakeup wakeAt(long deadlineNanos, Runnable action);

    /** A scheduled action that can still be cancelled. */
    @FunctionalInterface
    interface Wakeup {
        /** Cancels the action; does nothing if it already ran or was cancelled. */
        void cancel();
    }

    /** The system monotonic clock ({@link System#nanoTime()}) with a shared daemon timer thread. */
    static MonotonicClock system() {
        return SystemClock.INSTANCE;
    }
}
