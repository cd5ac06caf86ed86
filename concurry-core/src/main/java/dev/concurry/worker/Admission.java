package dev.concurry.worker;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bound on calls in flight for one worker (SPEC W5): a counting semaphore whose waiters are woken
 * (with {@link IllegalStateException}) when the pool closes, so a submitter never stays blocked on a
 * closed pool. Unbounded pools skip it entirely.
 */
final class Admission {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notFull = lock.newCondition();
    private final int capacity;
    private int inFlight;
    private boolean closed;

    Admission(int capacity) {
        this.capacity = capacity;
    }

    /**
     * Takes a slot, blocking while full if {@code block}.
     *
     * @throws RejectedExecutionException when full and not blocking, or interrupted while waiting
     * @throws IllegalStateException      when the pool is or gets closed
     */
    void acquire(boolean block, String poolName) {
        lock.lock();
        try {
            while (true) {
                if (closed) {
                    throw LocalWorkerPool.closedException(poolName);
                }
                if (inFlight < capacity) {
                    inFlight++;
                    return;
                }
                if (!block) {
                    throw new RejectedExecutionException("worker pool '" + poolName + "': the worker's queue is full ("
                            + capacity + " calls in flight, maxQueuedTasks); retry later or let submit block");
                }
                try {
                    notFull.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    RejectedExecutionException rejected = new RejectedExecutionException("worker pool '" + poolName
                            + "': interrupted while waiting for room in a full queue; the call was not submitted");
                    rejected.initCause(e);
                    throw rejected;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    void release() {
        lock.lock();
        try {
            inFlight--;
            notFull.signal();
        } finally {
            lock.unlock();
        }
    }

    void close() {
        lock.lock();
        try {
            closed = true;
            notFull.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
