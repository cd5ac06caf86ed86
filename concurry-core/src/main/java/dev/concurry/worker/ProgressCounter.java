package dev.concurry.worker;

import dev.concurry.progress.ProgressTracker;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * Drives a {@link ProgressTracker} from futures (SPEC P1): one step per completed future, failed if
 * any fails, closed when the last is done. One counter and one callback object for all the futures;
 * the callback runs on whichever thread completes a future and never blocks.
 *
 * <p>Futures may be added while more are still coming ({@link #add}, then {@link #seal()}): the
 * pending count starts at one for the unsealed state, so the tracker cannot close early.
 */
final class ProgressCounter implements BiConsumer<Object, Throwable> {
    private final ProgressTracker tracker;
    private final AtomicLong pending = new AtomicLong(1);

    ProgressCounter(ProgressTracker tracker) {
        this.tracker = tracker;
    }

    void add(CompletableFuture<?> future) {
        expect();
        future.whenComplete(this);
    }

    /** One more future whose completion the caller will report to {@link #accept}. */
    void expect() {
        pending.incrementAndGet();
    }

    /** No more futures will be added. */
    void seal() {
        if (pending.decrementAndGet() == 0) {
            tracker.close();
        }
    }

    /** Submitting the rest failed: the work fails; the tracker closes once what was added is done. */
    void failAndSeal() {
        tracker.fail();
        seal();
    }

    @Override
    public void accept(Object value, Throwable failure) {
        if (failure != null) {
            tracker.fail();
        }
        tracker.step();
        if (pending.decrementAndGet() == 0) {
            tracker.close();
        }
    }
}
