package dev.concurry.worker;

/** How a pool hands calls to workers: fixed workers ({@link SlotDispatcher}) or one per call ({@link OnDemandDispatcher}). */
interface Dispatcher<W extends Worker> {

    /** Accepts the call (it will run or be cancelled, never dropped) or throws; may block for room. */
    void dispatch(Invocation<W, ?> call);

    /** Refuses new calls and wakes blocked submitters; queued calls still run unless cancelled. */
    void shutdown();

    /** Cancels every call that has not started. */
    void cancelQueued();

    /** Cancels every running call, interrupting its thread. */
    void interruptRunning();

    /** Waits until every thread this dispatcher started has ended, or the deadline ({@link System#nanoTime()}). */
    boolean awaitTermination(long deadlineNanos) throws InterruptedException;

    PoolStats stats();

    /** Frees what outlives the threads (child processes, killed if still alive); called last by close(). */
    default void destroy() {
    }
}
