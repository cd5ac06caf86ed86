package dev.concurry.progressbar;

import dev.concurry.progress.ProgressBarProvider;
import dev.concurry.progress.ProgressTracker;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Live terminal bars for {@link dev.concurry.progress.Progress#bar(String)}, drawn by
 * me.tongfei:progressbar: done / total, percentage, rate and ETA; for a time-boxed run
 * ({@link dev.concurry.progress.Progress#startFor(Duration)}) the seconds elapsed of the run's length,
 * the time remaining and the steps done. Registered with {@link java.util.ServiceLoader}: having this
 * module on the class path is all it takes.
 *
 * <pre>{@code
 * List<Page> pages = Futures.gather(futures, Progress.bar("fetching"));   // now a live bar on a terminal
 * }</pre>
 */
public final class TerminalProgressBars implements ProgressBarProvider {
    /** Advances the time-boxed bars; one daemon thread for all of them, started with the first. */
    private static final class Ticker {
        static final ScheduledExecutorService TICKS = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "concurry-progress-ticker");
            t.setDaemon(true);
            return t;
        });
    }

    private static final long TICK_MILLIS = 100;

    /** Used by {@link java.util.ServiceLoader}. */
    public TerminalProgressBars() {
    }

    @Override
    public ProgressTracker open(String description, long total) {
        return open(description, total, null);
    }

    @Override
    public ProgressTracker openFor(String description, Duration length) {
        return openFor(description, length, null);
    }

    /** A bar that writes to {@code consumer} (the terminal when null). */
    static ProgressTracker open(String description, long total, ProgressBarConsumer consumer) {
        ProgressBarBuilder builder = builder(description, consumer).setInitialMax(total).showSpeed();
        return new Bar(builder.build(), -1, System.nanoTime());
    }

    /** A time-boxed bar that writes to {@code consumer} (the terminal when null). */
    static ProgressTracker openFor(String description, Duration length, ProgressBarConsumer consumer) {
        // The bar counts whole seconds of the run (the library shows only whole units); its ETA is the
        // time left, exactly.
        long seconds = Math.max(1, (length.toMillis() + 999) / 1000);
        long startNanos = System.nanoTime();
        ProgressBarBuilder builder = builder(description, consumer).setInitialMax(seconds).setUnit("s", 1)
                .setEtaFunction(state -> Optional.of(remaining(length, startNanos)));
        return new Bar(builder.build(), length.toMillis(), startNanos);
    }

    /** The time left, rounded up to whole seconds: the bar shows whole seconds, and 0 only at the end. */
    private static Duration remaining(Duration length, long startNanos) {
        long leftNanos = length.toNanos() - (System.nanoTime() - startNanos);
        return leftNanos <= 0 ? Duration.ZERO : Duration.ofSeconds((leftNanos + 999_999_999) / 1_000_000_000);
    }

    private static ProgressBarBuilder builder(String description, ProgressBarConsumer consumer) {
        ProgressBarBuilder builder = new ProgressBarBuilder()
                .setTaskName(description)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setUpdateIntervalMillis((int) TICK_MILLIS);
        if (consumer != null) {
            builder.setConsumer(consumer).setStyle(ProgressBarStyle.ASCII);
        }
        return builder;
    }

    private static final class Bar implements ProgressTracker {
        private final ProgressBar bar;
        /** A time-boxed bar's length in milliseconds, or -1 for a bar of steps. */
        private final long lengthMillis;
        private final long startNanos;
        private final AtomicLong done = new AtomicLong();
        private final AtomicBoolean failed = new AtomicBoolean();
        private final AtomicBoolean closed = new AtomicBoolean();
        private final ScheduledFuture<?> ticks;

        Bar(ProgressBar bar, long lengthMillis, long startNanos) {
            this.bar = bar;
            this.lengthMillis = lengthMillis;
            this.startNanos = startNanos;
            this.ticks = lengthMillis > 0
                    ? Ticker.TICKS.scheduleAtFixedRate(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS)
                    : null;
        }

        @Override
        public void step(long steps) {
            if (steps < 0) {
                throw new IllegalArgumentException("steps must be >= 0, got: " + steps);
            }
            if (ticks == null) {
                bar.stepBy(steps);
            } else {
                done.addAndGet(steps);
            }
        }

        /** A time-boxed bar: the time elapsed (at most the length), and the steps done as its message. */
        private void tick() {
            long elapsedNanos = System.nanoTime() - startNanos;
            long elapsedMillis = Math.min(lengthMillis, TimeUnit.NANOSECONDS.toMillis(elapsedNanos));
            bar.stepTo(elapsedMillis >= lengthMillis ? bar.getMax() : elapsedMillis / 1000);
            long n = done.get();
            bar.setExtraMessage(String.format(Locale.ROOT, "%d done, %.1f/s", n,
                    elapsedNanos <= 0 ? 0.0 : n * 1e9 / elapsedNanos));
        }

        @Override
        public void fail() {
            failed.set(true);
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                String outcome = failed.get() ? "FAILED" : "done";
                if (ticks != null) {
                    ticks.cancel(false);
                    tick();
                    bar.setExtraMessage(bar.getExtraMessage() + ": " + outcome);
                } else {
                    // A space: the library appends the message right after the rate ("104.3/s done").
                    bar.setExtraMessage(" " + outcome);
                }
                bar.close();
            }
        }
    }
}
