package dev.concurry.time;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** {@link System#nanoTime()} and one lazily started daemon timer thread shared by every backend. */
final class SystemClock implements MonotonicClock {
    static final SystemClock INSTANCE = new SystemClock();

    private SystemClock() {
    }

    /** Holder idiom: the timer thread starts only when the first wake-up is scheduled. */
    private static final class Timer {
        static final ScheduledThreadPoolExecutor EXECUTOR = create();

        private static ScheduledThreadPoolExecutor create() {
            ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, runnable -> {
                Thread thread = new Thread(runnable, "concurry-timer");
                thread.setDaemon(true);
                return thread;
            });
            executor.setRemoveOnCancelPolicy(true);
            return executor;
        }
    }

    @Override
    public long nanoTime() {
        return System.nanoTime();
    }

    @Override
    public Wakeup wakeAt(long deadlineNanos, Runnable action) {
        long delay = deadlineNanos - System.nanoTime();
        ScheduledFuture<?> future = Timer.EXECUTOR.schedule(() -> {
            try {
                action.run();
            } catch (RuntimeException | Error e) {
                // A failing action must not kill the shared timer thread.
                Thread.currentThread().getUncaughtExceptionHandler()
                        .uncaughtException(Thread.currentThread(), e);
            }
        }, Math.max(0, delay), TimeUnit.NANOSECONDS);
        return () -> future.cancel(false);
    }

    @Override
    public String toString() {
        return "MonotonicClock.system()";
    }
}
