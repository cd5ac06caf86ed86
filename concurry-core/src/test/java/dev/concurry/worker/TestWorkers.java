package dev.concurry.worker;

import dev.concurry.limit.Limiter;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Small workers shared by the worker tests. */
final class TestWorkers {
    static final Duration LONG = Duration.ofSeconds(10);

    private TestWorkers() {
    }

    /** A worker that knows its id and can succeed, fail, block and report its limiter. */
    static class Probe extends Worker {
        final int id;

        Probe(int id) {
            this.id = id;
        }

        Probe() {
            this(0);
        }

        int id() {
            return id;
        }

        String echo(String s) {
            return s + "@" + id;
        }

        String failUnchecked(String message) {
            throw new IllegalArgumentException(message);
        }

        String failChecked(String message) throws IOException {
            throw new IOException(message);
        }

        Limiter limiter() {
            return limits();
        }

        /** Signals {@code started}, then waits for {@code release}; interruptible. */
        String block(CountDownLatch started, CountDownLatch release) throws InterruptedException {
            started.countDown();
            if (!release.await(LONG.toSeconds(), TimeUnit.SECONDS)) {
                throw new IllegalStateException("test latch never released");
            }
            return "released@" + id;
        }
    }

    /** Waits for a latch in a test, failing instead of hanging. */
    static void await(CountDownLatch latch) throws InterruptedException {
        if (!latch.await(LONG.toSeconds(), TimeUnit.SECONDS)) {
            throw new AssertionError("timed out waiting for a latch");
        }
    }

    /** Waits until {@code thread} blocks (WAITING / TIMED_WAITING), failing after a generous bound. */
    static void awaitBlocked(Thread thread) throws InterruptedException {
        long deadline = System.nanoTime() + LONG.toNanos();
        while (thread.getState() != Thread.State.WAITING && thread.getState() != Thread.State.TIMED_WAITING) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("thread never blocked: " + thread.getState());
            }
            Thread.sleep(1);
        }
    }

    static void maxUpdate(AtomicInteger max, int value) {
        max.accumulateAndGet(value, Math::max);
    }
}
