package dev.concurry.worker;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One submitted call and its future. The state machine makes cancellation exact (SPEC W6):
 * <ul>
 *   <li>QUEUED → CANCELLED: cancelled before it started; {@link #onCancelledBeforeStart} removes it
 *       from its queue and frees its queue slot, exactly once; it never runs.</li>
 *   <li>QUEUED → RUNNING → DONE: the runner won the race; a {@code cancel(true)} while RUNNING
 *       interrupts the runner. INTERRUPTING brackets the interrupt so that {@link #finish()} (which
 *       spins past it) never lets an interrupt meant for this call hit the runner's next call; the
 *       runner then clears its interrupt status.</li>
 * </ul>
 */
final class Invocation<W, R> {
    private static final int QUEUED = 0;
    private static final int RUNNING = 1;
    private static final int INTERRUPTING = 2;
    private static final int DONE = 3;
    private static final int CANCELLED = 4;

    final WorkerCall<W, R> call;
    final CallFuture future = new CallFuture();
    private final AtomicInteger state = new AtomicInteger(QUEUED);
    private volatile Thread runner;
    /** The outcome; written and read by the runner thread only. */
    private R result;
    private Throwable failure;
    private volatile Runnable onCancelledBeforeStart = () -> {
    };
    /** The queue slot shared by every attempt of a retried call; null for a plain call. */
    private final SharedSlot sharedSlot;
    /** Gives back the queue slot a plain call took (SPEC W5); null when none was taken or it is given back. */
    private volatile Runnable releaseSlot;

    Invocation(WorkerCall<W, R> call) {
        this(call, null);
    }

    /** An attempt of a retried call: all its attempts share {@code slot}, taken once by the first. */
    Invocation(WorkerCall<W, R> call, SharedSlot slot) {
        this.call = call;
        this.sharedSlot = slot;
    }

    /**
     * Whether dispatching this call must take a queue slot: a plain call takes one; of a retried
     * call's attempts only the first does, the others ride on it (they are started by a timer that
     * must never block or be refused).
     */
    boolean needsSlot() {
        return sharedSlot == null || !sharedSlot.taken;
    }

    /** Records how to give back the queue slot just taken for this call. */
    void slotTaken(Runnable release) {
        if (sharedSlot == null) {
            releaseSlot = release;
        } else {
            sharedSlot.hold(release);
        }
    }

    /**
     * Called once when this call ends on its worker (run or cancelled): gives back a plain call's
     * slot. A retried call's slot is given back by its retry when the final outcome is known.
     */
    void releaseSlot() {
        Runnable release = releaseSlot;
        if (release != null) {
            releaseSlot = null;
            release.run();
        }
    }

    /** What to do when the call is cancelled before it started (set before it is queued). */
    void onCancelledBeforeStart(Runnable action) {
        this.onCancelledBeforeStart = action;
    }

    /** Claims the call for the current thread; false if it was cancelled first (then skip it). */
    boolean start() {
        runner = Thread.currentThread();
        return state.compareAndSet(QUEUED, RUNNING);
    }

    /**
     * Runs the call on {@code worker} on the current thread (after {@link #start()} succeeded); never
     * throws. Returns whether the call threw. The outcome is handed to the caller by
     * {@link #complete()}, which the runner calls after its bookkeeping, so that a caller reacting to
     * the result sees the worker idle and its queue slot free.
     */
    boolean run(W worker) {
        return runWith(() -> call.call(worker));
    }

    /**
     * Like {@link #run}, with the outcome produced by {@code body} instead of calling the worker
     * here: a process worker's runner sends the call to its child and waits for the answer.
     */
    boolean runWith(Body<R> body) {
        try {
            result = body.get();
        } catch (Throwable t) {
            failure = t;
        }
        finish();
        return failure != null;
    }

    /**
     * Fails the call without running it if it has not started, as if cancelled (its queue place is
     * freed exactly once) but with {@code failure} as the outcome. Returns whether it did.
     */
    boolean failIfQueued(Throwable failure) {
        if (state.compareAndSet(QUEUED, CANCELLED)) {
            future.completeExceptionally(failure);
            onCancelledBeforeStart.run();
            return true;
        }
        return false;
    }

    /** What produces a call's outcome; may throw anything, which becomes the call's failure. */
    @FunctionalInterface
    interface Body<R> {
        R get() throws Throwable;
    }

    /** Records {@code failure} as the outcome without running the call (after {@link #start()}). */
    void fail(Throwable failure) {
        this.failure = failure;
        finish();
    }

    /** Completes the future with the outcome of {@link #run} or {@link #fail}. */
    void complete() {
        if (failure != null) {
            future.completeExceptionally(failure);
        } else {
            future.complete(result);
        }
    }

    private void finish() {
        while (!state.compareAndSet(RUNNING, DONE)) {
            Thread.onSpinWait(); // a cancel(true) is interrupting us right now; it takes nanoseconds
        }
        runner = null;
    }

    /**
     * Cancels the call only if it has not started: it then never runs. Used by close(), which must
     * not cancel running calls without interrupting them.
     */
    void cancelIfQueued() {
        if (state.compareAndSet(QUEUED, CANCELLED)) {
            future.cancel(false);
            onCancelledBeforeStart.run();
        }
    }

    private void cancelled(boolean interrupt) {
        while (true) {
            int s = state.get();
            if (s == QUEUED) {
                if (state.compareAndSet(QUEUED, CANCELLED)) {
                    onCancelledBeforeStart.run();
                    return;
                }
            } else if (s == RUNNING && interrupt) {
                if (state.compareAndSet(RUNNING, INTERRUPTING)) {
                    Thread t = runner;
                    if (t != null) {
                        t.interrupt();
                    }
                    state.set(RUNNING);
                    return;
                }
            } else {
                return;
            }
        }
    }

    /** The future handed to the caller: {@code cancel(true)} reaches the call (CompletableFuture alone would not). */
    final class CallFuture extends CompletableFuture<R> {
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled) {
                cancelled(mayInterruptIfRunning);
            }
            return cancelled;
        }
    }

    /**
     * The one queue slot of a retried call: taken by its first attempt, held during backoffs, given
     * back once with the final outcome, so back-pressure counts the submission, not its attempts.
     */
    static final class SharedSlot {
        private volatile boolean taken;
        private final java.util.concurrent.atomic.AtomicReference<Runnable> release = new java.util.concurrent.atomic.AtomicReference<>();

        void hold(Runnable releaseAction) {
            release.set(releaseAction);
            taken = true;
        }

        /** Gives the slot back; idempotent. */
        void release() {
            Runnable r = release.getAndSet(null);
            if (r != null) {
                r.run();
            }
        }
    }
}
