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

    /** A live bar on a terminal, periodic lines otherwise. */
    static Progress bar(String description) {
        Objects.requireNonNull(description, "description");
        return total -> {
            if (isTerminal()) {
                for (ProgressBarProvider provider : ServiceLoader.load(ProgressBarProvider.class)) {
                    return provider.open(description, total);
                }
            }
            return new LineProgress(description, total, System.err, Duration.ofSeconds(1), MonotonicClock.system());
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
        return total -> new LineProgress(description, total, out, every, clock);
    }

    /** Reports nothing. */
    static Progress none() {
        return total -> ProgressTracker.NONE;
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
