package dev.concurry.worker;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The FIFO queue of calls waiting for a worker thread. Unbounded: the bound lives in {@link Admission}
 * so that it counts running calls too. A lock and a condition rather than {@code synchronized}, so
 * that virtual threads never pin.
 */
final class CallQueue {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final ArrayDeque<Invocation<?, ?>> calls = new ArrayDeque<>();
    private boolean closed;

    /** @throws IllegalStateException once closed */
    void put(Invocation<?, ?> call, String poolName) {
        lock.lock();
        try {
            if (closed) {
                throw LocalWorkerPool.closedException(poolName);
            }
            calls.addLast(call);
            notEmpty.signal();
        } finally {
            lock.unlock();
        }
    }

    /** The next call; null once closed and empty. Not interruptible: close() wakes it. */
    Invocation<?, ?> take() {
        lock.lock();
        try {
            while (calls.isEmpty()) {
                if (closed) {
                    return null;
                }
                notEmpty.awaitUninterruptibly();
            }
            return calls.pollFirst();
        } finally {
            lock.unlock();
        }
    }

    /** The next call if there is one now, else null. */
    Invocation<?, ?> poll() {
        lock.lock();
        try {
            return calls.pollFirst();
        } finally {
            lock.unlock();
        }
    }

    void remove(Invocation<?, ?> call) {
        lock.lock();
        try {
            calls.removeFirstOccurrence(call);
        } finally {
            lock.unlock();
        }
    }

    /** Refuses further puts; takers drain what is left, then get null. */
    void close() {
        lock.lock();
        try {
            closed = true;
            notEmpty.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Removes and returns every queued call. */
    List<Invocation<?, ?>> drain() {
        lock.lock();
        try {
            List<Invocation<?, ?>> all = new ArrayList<>(calls);
            calls.clear();
            return all;
        } finally {
            lock.unlock();
        }
    }

    int size() {
        lock.lock();
        try {
            return calls.size();
        } finally {
            lock.unlock();
        }
    }
}
