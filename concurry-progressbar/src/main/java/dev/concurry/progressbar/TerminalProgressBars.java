package dev.concurry.progressbar;

import dev.concurry.progress.ProgressBarProvider;
import dev.concurry.progress.ProgressTracker;
import java.util.concurrent.atomic.AtomicBoolean;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Live terminal bars for {@link dev.concurry.progress.Progress#bar(String)}, drawn by
 * me.tongfei:progressbar: done / total, percentage, rate and ETA. Registered with
 * {@link java.util.ServiceLoader}: having this module on the class path is all it takes.
 *
 * <pre>{@code
 * List<Page> pages = Futures.gather(futures, Progress.bar("fetching"));   // now a live bar on a terminal
 * }</pre>
 */
public final class TerminalProgressBars implements ProgressBarProvider {

    @Override
    public ProgressTracker open(String description, long total) {
        return open(description, total, null);
    }

    /** A bar that writes to {@code consumer} (the terminal when null). */
    static ProgressTracker open(String description, long total, ProgressBarConsumer consumer) {
        ProgressBarBuilder builder = new ProgressBarBuilder()
                .setTaskName(description)
                .setInitialMax(total)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setUpdateIntervalMillis(100)
                .showSpeed();
        if (consumer != null) {
            builder.setConsumer(consumer).setStyle(ProgressBarStyle.ASCII);
        }
        return new Bar(builder.build());
    }

    private static final class Bar implements ProgressTracker {
        private final ProgressBar bar;
        private final AtomicBoolean failed = new AtomicBoolean();
        private final AtomicBoolean closed = new AtomicBoolean();

        Bar(ProgressBar bar) {
            this.bar = bar;
        }

        @Override
        public void step(long steps) {
            if (steps < 0) {
                throw new IllegalArgumentException("steps must be >= 0, got: " + steps);
            }
            bar.stepBy(steps);
        }

        @Override
        public void fail() {
            failed.set(true);
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                bar.setExtraMessage(failed.get() ? "FAILED" : "done");
                bar.close();
            }
        }
    }
}
