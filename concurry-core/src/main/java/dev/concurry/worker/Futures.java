package dev.concurry.worker;

import dev.concurry.progress.Progress;
import dev.concurry.progress.ProgressTracker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Helpers over many futures (SPEC W10), driven by completion callbacks, never by polling.
 *
 * <pre>{@code
 * List<Completion> all = Futures.gather(prompts.stream().map(p -> pool.submit(w -> w.generate(p))).toList());
 * Map<String, Page> byUrl = Futures.gather(Map.of("a", fa, "b", fb));
 * WaitResult<CompletableFuture<Page>> r = Futures.wait(futures, WaitMode.FIRST_COMPLETED, Duration.ofSeconds(5));
 * Futures.asCompleted(futures).forEach(f -> show(f.join()));
 * }</pre>
 *
 * <p>Failures, everywhere: an unchecked exception or error from a future is rethrown as it is
 * (including {@link CancellationException}); a checked one arrives wrapped in
 * {@link CallFailedException} with the original as its cause. A thread interrupted while waiting gets
 * a {@link CancellationException} (cause: the {@link InterruptedException}) with its interrupt status
 * kept. Nothing here cancels the futures it waits for.
 *
 * <p>Progress (SPEC P1): each helper has an overload taking a trailing {@link Progress}. The tracker
 * it opens steps once per completed future (in the callback of the thread that completes it, which
 * never blocks), is marked failed if a future fails (or a gather times out), and is closed when the
 * helper returns or throws ({@code asCompleted}: when the last future is done):
 *
 * <pre>{@code
 * List<Completion> all = Futures.gather(futures, Progress.bar("generating"));
 * }</pre>
 */
public final class Futures {
    private Futures() {
    }

    /**
     * Every result, in the order of {@code futures}. Fails as soon as any future fails, with that
     * failure (the first to happen), without waiting for the others.
     */
    public static <T> List<T> gather(List<? extends CompletableFuture<? extends T>> futures) {
        return gather(futures, null, ProgressTracker.NONE);
    }

    /**
     * {@link #gather(List)} showing progress: done / total, rate and ETA, ending in success or failure.
     *
     * <pre>{@code
     * List<Page> pages = Futures.gather(futures, Progress.bar("fetching"));
     * }</pre>
     */
    public static <T> List<T> gather(List<? extends CompletableFuture<? extends T>> futures, Progress progress) {
        return gather(futures, (Duration) null, progress);
    }

    /**
     * {@link #gather(List, Duration)} showing progress; a timeout ends the progress as failed.
     *
     * <pre>{@code
     * List<Page> pages = Futures.gather(futures, Duration.ofMinutes(5), Progress.bar("fetching"));
     * }</pre>
     *
     * @param timeout how long to wait; null for no timeout
     * @throws WaitTimeoutException if not all futures are done in time
     */
    public static <T> List<T> gather(List<? extends CompletableFuture<? extends T>> futures, Duration timeout,
            Progress progress) {
        Objects.requireNonNull(progress, "progress");
        return gather(futures, timeout, progress.start(futures.size()));
    }

    /**
     * {@link #gather(List)} within {@code timeout}.
     *
     * @throws WaitTimeoutException if not all futures are done in time
     */
    public static <T> List<T> gather(List<? extends CompletableFuture<? extends T>> futures, Duration timeout) {
        return gather(futures, Objects.requireNonNull(timeout, "timeout"), ProgressTracker.NONE);
    }

    /** Every result by key, in the map's iteration order; fails like {@link #gather(List)}. */
    public static <K, V> Map<K, V> gather(Map<K, ? extends CompletableFuture<? extends V>> futures) {
        return gather(futures, (Duration) null);
    }

    /**
     * {@link #gather(Map)} showing progress.
     *
     * <pre>{@code
     * Map<String, Page> byUrl = Futures.gather(futuresByUrl, Progress.bar("fetching"));
     * }</pre>
     */
    public static <K, V> Map<K, V> gather(Map<K, ? extends CompletableFuture<? extends V>> futures, Progress progress) {
        Objects.requireNonNull(progress, "progress");
        return gather(futures, null, progress.start(futures.size()));
    }

    /**
     * {@link #gather(Map)} within {@code timeout} (null: no timeout).
     *
     * @throws WaitTimeoutException if not all futures are done in time
     */
    public static <K, V> Map<K, V> gather(Map<K, ? extends CompletableFuture<? extends V>> futures, Duration timeout) {
        return gather(futures, timeout, ProgressTracker.NONE);
    }

    private static <K, V> Map<K, V> gather(Map<K, ? extends CompletableFuture<? extends V>> futures, Duration timeout,
            ProgressTracker tracker) {
        List<K> keys = new ArrayList<>(futures.keySet());
        List<V> values = gather(new ArrayList<>(futures.values()), timeout, tracker);
        Map<K, V> result = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            result.put(keys.get(i), values.get(i));
        }
        return result;
    }

    /** Gathers, stepping {@code tracker} before counting each future, and closes it on every way out. */
    private static <T> List<T> gather(List<? extends CompletableFuture<? extends T>> futures, Duration timeout,
            ProgressTracker tracker) {
        CompletableFuture<Void> all = new CompletableFuture<>();
        AtomicInteger remaining = new AtomicInteger(futures.size());
        try {
            if (futures.isEmpty()) {
                all.complete(null);
            }
            for (CompletableFuture<? extends T> future : futures) {
                future.whenComplete((value, failure) -> {
                    if (failure != null) {
                        tracker.fail();
                        tracker.step();
                        all.completeExceptionally(unwrap(failure));
                    } else {
                        tracker.step();
                        if (remaining.decrementAndGet() == 0) {
                            all.complete(null);
                        }
                    }
                });
            }
            awaitUnchecked(all, timeout, () -> "gather timed out after " + timeout + ": "
                    + (futures.size() - remaining.get()) + " of " + futures.size() + " futures done");
        } catch (RuntimeException | Error e) {
            tracker.fail();
            throw e;
        } finally {
            tracker.close();
        }
        List<T> results = new ArrayList<>(futures.size());
        for (CompletableFuture<? extends T> future : futures) {
            results.add(future.join());
        }
        return results;
    }

    /** {@link #wait(Collection, WaitMode, Duration)} without a timeout. */
    public static <F extends CompletableFuture<?>> WaitResult<F> wait(Collection<F> futures, WaitMode mode) {
        return wait(futures, mode, null);
    }

    /**
     * Waits until {@code mode} is satisfied or {@code timeout} passes (null: no timeout), then says
     * which futures are done. Never throws for a failed future or a timeout: look at the result.
     */
    public static <F extends CompletableFuture<?>> WaitResult<F> wait(Collection<F> futures, WaitMode mode,
            Duration timeout) {
        return wait(futures, mode, timeout, ProgressTracker.NONE);
    }

    /**
     * {@link #wait(Collection, WaitMode, Duration)} showing progress; the progress ends when this
     * returns, failed if a future that is done failed.
     *
     * <pre>{@code
     * WaitResult<CompletableFuture<Page>> r = Futures.wait(futures, WaitMode.ALL_COMPLETED, null, Progress.bar("fetching"));
     * }</pre>
     *
     * @param timeout how long to wait; null for no timeout
     */
    public static <F extends CompletableFuture<?>> WaitResult<F> wait(Collection<F> futures, WaitMode mode,
            Duration timeout, Progress progress) {
        Objects.requireNonNull(progress, "progress");
        Objects.requireNonNull(mode, "mode");
        ProgressTracker tracker = progress.start(futures.size());
        try {
            return wait(futures, mode, timeout, tracker);
        } finally {
            tracker.close();
        }
    }

    private static <F extends CompletableFuture<?>> WaitResult<F> wait(Collection<F> futures, WaitMode mode,
            Duration timeout, ProgressTracker tracker) {
        Objects.requireNonNull(mode, "mode");
        CompletableFuture<Void> satisfied = new CompletableFuture<>();
        AtomicInteger remaining = new AtomicInteger(futures.size());
        if (futures.isEmpty()) {
            satisfied.complete(null);
        }
        for (F future : futures) {
            future.whenComplete((value, failure) -> {
                if (failure != null) {
                    tracker.fail();
                }
                tracker.step();
                boolean last = remaining.decrementAndGet() == 0;
                if (last || mode == WaitMode.FIRST_COMPLETED || (mode == WaitMode.FIRST_EXCEPTION && failure != null)) {
                    satisfied.complete(null);
                }
            });
        }
        try {
            if (timeout == null) {
                satisfied.get();
            } else {
                satisfied.get(TimeUnit.NANOSECONDS.convert(timeout), TimeUnit.NANOSECONDS);   // saturates
            }
        } catch (TimeoutException e) {
            // fall through: report what is done so far
        } catch (ExecutionException e) {
            throw new IllegalStateException(e); // never completed exceptionally
        } catch (InterruptedException e) {
            throw interrupted(e);
        }
        Set<F> done = new LinkedHashSet<>();
        Set<F> notDone = new LinkedHashSet<>();
        for (F future : futures) {
            (future.isDone() ? done : notDone).add(future);
        }
        return new WaitResult<>(done, notDone);
    }

    /**
     * The futures in the order they complete, each done when the stream yields it; the stream blocks
     * until the next one completes.
     *
     * <pre>{@code
     * Futures.asCompleted(futures).map(CompletableFuture::join).forEach(this::show);
     * }</pre>
     */
    public static <F extends CompletableFuture<?>> Stream<F> asCompleted(Collection<F> futures) {
        return asCompleted(futures, ProgressTracker.NONE);
    }

    /**
     * {@link #asCompleted(Collection)} showing progress; the progress ends when the last future is
     * done, failed if any failed (even if the stream is not read to the end).
     *
     * <pre>{@code
     * Futures.asCompleted(futures, Progress.bar("fetching")).map(CompletableFuture::join).forEach(this::show);
     * }</pre>
     */
    public static <F extends CompletableFuture<?>> Stream<F> asCompleted(Collection<F> futures, Progress progress) {
        Objects.requireNonNull(progress, "progress");
        return asCompleted(futures, progress.start(futures.size()));
    }

    private static <F extends CompletableFuture<?>> Stream<F> asCompleted(Collection<F> futures,
            ProgressTracker tracker) {
        int size = futures.size();
        LinkedBlockingQueue<F> completed = new LinkedBlockingQueue<>();
        ProgressCounter counter = new ProgressCounter(tracker);
        for (F future : futures) {
            counter.expect();
            future.whenComplete((value, failure) -> {
                counter.accept(value, failure); // counted before the stream can yield the future
                completed.add(future);
            });
        }
        counter.seal();
        Iterator<F> iterator = new Iterator<>() {
            private int yielded;

            @Override
            public boolean hasNext() {
                return yielded < size;
            }

            @Override
            public F next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                try {
                    F next = completed.take();
                    yielded++;
                    return next;
                } catch (InterruptedException e) {
                    throw interrupted(e);
                }
            }
        };
        return StreamSupport.stream(Spliterators.spliterator(iterator, size,
                Spliterator.ORDERED | Spliterator.SIZED | Spliterator.NONNULL), false);
    }

    /** The future's value; failures as described on the class. Cancels the future if interrupted and asked to. */
    static <T> T join(CompletableFuture<T> future, boolean cancelOnInterrupt) {
        try {
            return future.get();
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (InterruptedException e) {
            if (cancelOnInterrupt) {
                future.cancel(true);
            }
            throw interrupted(e);
        }
    }

    private static void awaitUnchecked(CompletableFuture<?> future, Duration timeout,
            java.util.function.Supplier<String> timeoutMessage) {
        try {
            if (timeout == null) {
                future.get();
            } else {
                future.get(TimeUnit.NANOSECONDS.convert(timeout), TimeUnit.NANOSECONDS);   // saturates
            }
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (TimeoutException e) {
            throw new WaitTimeoutException(timeoutMessage.get());
        } catch (InterruptedException e) {
            throw interrupted(e);
        }
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    private static RuntimeException rethrow(Throwable failure) {
        Throwable original = unwrap(failure);
        if (original instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (original instanceof Error error) {
            throw error;
        }
        return new CallFailedException(original);
    }

    private static CancellationException interrupted(InterruptedException e) {
        Thread.currentThread().interrupt();
        CancellationException cancelled = new CancellationException("interrupted while waiting for futures");
        cancelled.initCause(e);
        return cancelled;
    }
}
