package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.time.ManualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;

/**
 * The common base of every TCK class: a fresh {@link ManualClock} per test (JUnit creates one
 * instance per test method), the backend under test, and helpers to build sets, move time and watch
 * waiters. A backend module normally subclasses {@link LimitSetTck}, which runs every TCK class; a
 * single part can also be run alone by subclassing it:
 *
 * <pre>{@code
 * class SlidingWindowOnMyBackendTest extends SlidingWindowTck {
 *     @Override
 *     protected LimitBackend backend(ManualClock clock) {
 *         return MyBackend.on(clock);
 *     }
 * }
 * }</pre>
 *
 * <p>Times in the tests are nanoseconds on the manual clock, which starts at 0; sets are built at 0
 * unless a test says otherwise, so an instant {@code T} is also {@code T} since the set's epoch.
 */
public abstract class BackendTck {
    /** How long a test waits for another thread or a future before failing; never an assertion on time. */
    protected static final Duration PATIENCE = Duration.ofSeconds(10);
    protected static final long MS = 1_000_000L;
    protected static final long SECOND = 1_000_000_000L;
    /**
     * How early a {@code tryAcquire} may be granted: the algorithms compare with a relative rounding
     * tolerance (1e-12 of capacity, about 1e-12 × window in time, far below 1 ns for any window
     * under 15 minutes). Waiters are still checked to the nanosecond: their wake-up is scheduled at
     * the computed instant.
     */
    protected static final long ROUNDING = 1;

    /** The clock of this test; the backend must take all its time from it. */
    protected final ManualClock clock = new ManualClock();
    private final List<LimitSet> sets = new ArrayList<>();
    private ExecutorService threads;

    /** The backend under test, reading time from {@code clock} (called once per set built). */
    protected abstract LimitBackend backend(ManualClock clock);

    /** A set of {@code limits} on the backend under test and this test's clock; closed after the test. */
    protected LimitSet set(Limit... limits) {
        LimitSet.Builder builder = LimitSet.builder();
        for (Limit limit : limits) {
            builder.add(limit);
        }
        LimitSet set = builder.backend(backend(clock)).build();
        sets.add(set);
        return set;
    }

    /** Closes {@code set} after the test; returns it. */
    protected LimitSet track(LimitSet set) {
        sets.add(set);
        return set;
    }

    @AfterEach
    void closeSetsAndThreads() {
        sets.forEach(LimitSet::close);
        if (threads != null) {
            threads.shutdownNow();
        }
    }

    /** Moves the manual clock to {@code nanos} (absolute), running every wake-up due on the way. */
    protected void advanceTo(long nanos) {
        long now = clock.nanoTime();
        assertThat(nanos).as("the test moves time forward only").isGreaterThanOrEqualTo(now);
        clock.advanceNanos(nanos - now);
    }

    /** Runs {@code task} on its own platform thread (so it may block); the result is a future. */
    protected <T> Future<T> onAnotherThread(java.util.concurrent.Callable<T> task) {
        if (threads == null) {
            threads = Executors.newCachedThreadPool(r -> {
                Thread thread = new Thread(r, "tck-acquirer");
                thread.setDaemon(true);
                return thread;
            });
        }
        return threads.submit(task);
    }

    /** A blocking {@code acquire} started on another thread; returns once it is queued as a waiter. */
    protected Future<Acquisition> blockingAcquire(LimitSet set, Request request) {
        int before = set.stats().waiting();
        Future<Acquisition> future = onAnotherThread(() -> set.acquire(request));
        awaitWaiting(set, before + 1, future);
        return future;
    }

    /** An {@code acquireAsync} expected to wait; returns once it is queued as a waiter. */
    protected CompletableFuture<Acquisition> asyncAcquire(LimitSet set, Request request) {
        int before = set.stats().waiting();
        CompletableFuture<Acquisition> future = set.acquireAsync(request);
        awaitWaiting(set, before + 1, future);
        return future;
    }

    /** Spins (bounded by {@link #PATIENCE}) until {@code set} reports {@code count} waiters. */
    protected void awaitWaiting(LimitSet set, int count) {
        awaitWaiting(set, count, null);
    }

    private void awaitWaiting(LimitSet set, int count, Future<?> acquirer) {
        awaitTrue(() -> {
            if (acquirer != null && acquirer.isDone()) {
                fail("the acquirer finished instead of waiting: " + outcome(acquirer));
            }
            return set.stats().waiting() == count;
        }, "set to report " + count + " waiters; stats: " + set.stats());
    }

    /** Spins with {@link Thread#yield()} until {@code condition} holds, failing after {@link #PATIENCE}. */
    protected static void awaitTrue(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        for (long spins = 0; !condition.getAsBoolean(); spins++) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after " + PATIENCE + " waiting for " + what);
            }
            if (spins < 1_000) {
                Thread.yield();
            } else {
                sleepQuietly();
            }
        }
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
    }

    /** The value of {@code future}, failing the test if it does not complete within {@link #PATIENCE}. */
    protected static <T> T await(Future<T> future) {
        try {
            return future.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("expected a value, the acquirer failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new AssertionError("no result within " + PATIENCE, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** The exception {@code future} fails with, failing the test if it succeeds or hangs. */
    protected static Throwable failureOf(Future<?> future) {
        try {
            Object value = future.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
            throw new AssertionError("expected a failure, got: " + value);
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (TimeoutException e) {
            throw new AssertionError("no outcome within " + PATIENCE, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static String outcome(Future<?> future) {
        try {
            return "returned " + future.get(0, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            return "threw " + e.getCause();
        } catch (Exception e) {
            return e.toString();
        }
    }

    /** How a waiter waits, for tests that must hold for both. */
    protected enum WaitMode {
        BLOCKING, ASYNC
    }

    /** Starts a waiter for {@code request} that is expected to wait. */
    protected Future<Acquisition> waiter(LimitSet set, Request request, WaitMode mode) {
        return mode == WaitMode.BLOCKING ? blockingAcquire(set, request) : asyncAcquire(set, request);
    }

    /**
     * Asserts that a waiter for {@code request} started now is granted exactly at {@code at}: still
     * waiting at {@code at - 1 ns}, granted once the clock reads {@code at}. Returns the grant.
     */
    protected Acquisition assertGrantedExactlyAt(LimitSet set, Request request, long at, WaitMode mode) {
        int before = set.stats().waiting();
        Future<Acquisition> future = waiter(set, request, mode);
        advanceTo(at - 1);
        assertThat(set.stats().waiting())
                .as("%s must still wait 1 ns before %d ns (clock %d ns)", request, at, clock.nanoTime())
                .isEqualTo(before + 1);
        assertThat(future).as("%s granted 1 ns early", request).isNotDone();
        advanceTo(at);
        return await(future);
    }

    /** {@code tryAcquire}, expecting a grant. */
    protected static Acquisition granted(LimitSet set, Request request) {
        Optional<Acquisition> result = set.tryAcquire(request);
        assertThat(result).as(() -> "tryAcquire(" + request + ") should be granted; stats: " + set.stats()).isPresent();
        return result.orElseThrow();
    }

    /** {@code tryAcquire}, expecting a refusal. */
    protected static void refused(LimitSet set, Request request) {
        Optional<Acquisition> result = set.tryAcquire(request);
        result.ifPresent(Acquisition::close);
        assertThat(result).as(() -> "tryAcquire(" + request + ") should be refused; stats: " + set.stats()).isEmpty();
    }

    /** How many {@code tryAcquire(request)} in a row are granted now (at most {@code max}); grants kept. */
    protected static int grantsNow(LimitSet set, Request request, int max) {
        int n = 0;
        while (n < max && set.tryAcquire(request).isPresent()) {
            n++;
        }
        return n;
    }
}
