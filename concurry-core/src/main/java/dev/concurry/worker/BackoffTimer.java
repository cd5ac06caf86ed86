package dev.concurry.worker;

import dev.concurry.time.MonotonicClock;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The pool's clock as its retries see it: schedules backoffs on the configured clock and remembers
 * them, so that {@link #close()} can end every backoff at once (the retry then finds the pool closed
 * and gives up) instead of leaving callers waiting up to a max wait after the pool is gone.
 * A backoff scheduled after close ends at once.
 */
final class BackoffTimer implements MonotonicClock {
    private final MonotonicClock clock;
    private final Set<Scheduled> pending = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    BackoffTimer(MonotonicClock clock) {
        this.clock = clock;
    }

    @Override
    public long nanoTime() {
        return clock.nanoTime();
    }

    @Override
    public Wakeup wakeAt(long deadlineNanos, Runnable action) {
        Scheduled backoff = new Scheduled(action);
        pending.add(backoff);
        // close() sets the flag, then ends what is pending: one of the two sees this backoff.
        if (closed) {
            backoff.end();
            return backoff;
        }
        backoff.wakeup = clock.wakeAt(deadlineNanos, backoff::end);
        return backoff;
    }

    /** Ends every pending backoff now, on this thread. */
    void close() {
        closed = true;
        pending.forEach(Scheduled::end);
    }

    private final class Scheduled implements Wakeup {
        private final Runnable action;
        private final AtomicBoolean over = new AtomicBoolean();
        volatile Wakeup wakeup;

        Scheduled(Runnable action) {
            this.action = action;
        }

        void end() {
            if (finish()) {
                action.run();
            }
        }

        @Override
        public void cancel() {
            finish();
        }

        private boolean finish() {
            if (!over.compareAndSet(false, true)) {
                return false;
            }
            pending.remove(this);
            Wakeup w = wakeup;
            if (w != null) {
                w.cancel();
            }
            return true;
        }
    }
}
