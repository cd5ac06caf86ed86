package dev.concurry.progress;

import dev.concurry.time.MonotonicClock;
import java.io.Console;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Objects;
import java.util.ServiceLoader;

/**
 * How long work reports its progress (SPEC P1): done / total, rate, ETA, and success or failure at
 * the end. A {@code Progress} is a recipe; {@link #start(long)} opens a {@link ProgressTracker} for one
 * piece of work. The futures helpers and task executors accept one:
 *
 * <pre>{@code
 * List<Page> pages = Futures.gather(futures, Progress.bar("fetching"));
 *
 * try (ProgressTracker bar = Progress.bar("importing").start(files.size())) {   // manual use
 *     for (Path f : files) { importFile(f); bar.step(); }
 * }
 * }</pre>
 *
 * <p>{@link #bar(String)} draws a live bar on a terminal when a renderer is on the class path (add the
 * {@code concurry-progressbar} module, which uses me.tongfei:progressbar) and the output is a
 * terminal; otherwise it prints a plain line at most once a second to standard error, so logs of CI
 * jobs stay readable. The core itself has no dependency for this.
 */
@FunctionalInterface
public interface Progress {

    /** Opens a tracker for work of {@code total} steps ({@code -1} if unknown). */
    ProgressTracker start(long total);

    /**
     * Opens a tracker for work that runs for a fixed time (a time-boxed run) rather than a known
     * number of steps: it shows the time elapsed and the time remaining, and counts the steps done.
     * Trackers that cannot show time (this default) report as for an unknown total.
     *
     * <pre>{@code
     * try (ProgressTracker bar = Progress.bar("load test").startFor(Duration.ofMinutes(2))) {
     *     while (running()) { callOnce(); bar.step(); }
     * }
     * }</pre>
     *
     * @param length how long the work is meant to run; positive
     * @return the tracker
     */
    default ProgressTracker startFor(Duration length) {
        requirePositive(length);
        return start(-1);
    }

    /** A live bar on a terminal, periodic lines otherwise. */
    static Progress bar(String description) {
        Objects.requireNonNull(description, "description");
        return new Progress() {
            @Override
            public ProgressTracker start(long total) {
                ProgressBarProvider provider = terminalBars();
                return provider != null
                        ? provider.open(description, total)
                        : new LineProgress(description, total, System.err, Duration.ofSeconds(1),
                                MonotonicClock.system());
            }

            @Override
            public ProgressTracker startFor(Duration length) {
                requirePositive(length);
                ProgressBarProvider provider = terminalBars();
                return provider != null
                        ? provider.openFor(description, length)
                        : LineProgress.timed(description, length, System.err, Duration.ofSeconds(1),
                                MonotonicClock.system());
            }
        };
    }

    /**
     * Plain lines to {@code out}: one when the work starts, at most one per {@code every} while it runs,
     * and one at the end. Time comes from {@code clock} (a manual clock in tests).
     */
    static Progress lines(String description, PrintStream out, Duration every, MonotonicClock clock) {
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(clock, "clock");
        if (every == null || every.isNegative()) {
            throw new IllegalArgumentException("every must be a duration >= 0, got: " + every);
        }
        return new Progress() {
            @Override
            public ProgressTracker start(long total) {
                return new LineProgress(description, total, out, every, clock);
            }

            @Override
            public ProgressTracker startFor(Duration length) {
                requirePositive(length);
                return LineProgress.timed(description, length, out, every, clock);
            }
        };
    }

    /** Reports nothing. */
    static Progress none() {
        return total -> ProgressTracker.NONE;
    }

    private static void requirePositive(Duration length) {
        if (length == null || length.isNegative() || length.isZero()) {
            throw new IllegalArgumentException("length must be a positive duration, got: " + length);
        }
    }

    /** The live-bar renderer when the output is a terminal and one is on the class path, else null. */
    private static ProgressBarProvider terminalBars() {
        if (isTerminal()) {
            for (ProgressBarProvider provider : ServiceLoader.load(ProgressBarProvider.class)) {
                return provider;
            }
        }
        return null;
    }

    /** Whether standard output is an interactive terminal. */
    private static boolean isTerminal() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        try {
            // Java 22+: a console may exist without a terminal; Java 21 returns null in that case.
            Method isTerminal = Console.class.getMethod("isTerminal");
            return (Boolean) isTerminal.invoke(console);
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }
}
