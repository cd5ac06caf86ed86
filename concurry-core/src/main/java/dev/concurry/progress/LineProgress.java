package dev.concurry.progress;

import dev.concurry.time.MonotonicClock;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Plain progress lines for outputs that are not terminals (CI logs, files): of a number of steps, or,
 * for a time-boxed run ({@link #timed}), of the time elapsed and remaining with the steps done.
 */
final class LineProgress implements ProgressTracker {
    private final String description;
    private final long total;
    /** A time-boxed run's length in nanoseconds, or -1. */
    private final long lengthNanos;
    private final PrintStream out;
    private final long everyNanos;
    private final MonotonicClock clock;
    private final long start;
    private final AtomicLong done = new AtomicLong();
    private final AtomicLong lastPrinted;
    private final AtomicBoolean failed = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    LineProgress(String description, long total, PrintStream out, Duration every, MonotonicClock clock) {
        this(description, total, -1, out, every, clock);
    }

    /** Lines of a run meant to last {@code length}: elapsed, remaining, steps done. */
    static LineProgress timed(String description, Duration length, PrintStream out, Duration every,
            MonotonicClock clock) {
        return new LineProgress(description, -1, length.toNanos(), out, every, clock);
    }

    private LineProgress(String description, long total, long lengthNanos, PrintStream out, Duration every,
            MonotonicClock clock) {
        this.description = description;
        this.total = total;
        this.lengthNanos = lengthNanos;
        this.out = out;
        this.everyNanos = TimeUnit.NANOSECONDS.convert(every);     // saturates: centuries mean never
        this.clock = clock;
        this.start = clock.nanoTime();
        this.lastPrinted = new AtomicLong(start);
        out.println(description + ": started" + (total >= 0 ? ", " + total + " to do" : "")
                + (lengthNanos > 0 ? ", for " + seconds(lengthNanos) : ""));
    }

    @Override
    public void step(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be >= 0, got: " + steps);
        }
        long now = done.addAndGet(steps);
        long t = clock.nanoTime();
        long last = lastPrinted.get();
        if (t - last >= everyNanos && lastPrinted.compareAndSet(last, t) && !closed.get()) {
            out.println(line(now, t));
        }
    }

    @Override
    public void fail() {
        failed.set(true);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long t = clock.nanoTime();
        long n = done.get();
        String elapsed = seconds(t - start);
        String count = total >= 0 ? n + "/" + total : String.valueOf(n);
        out.println(description + ": " + (failed.get() ? "FAILED at " : "done ") + count + " in " + elapsed
                + " (" + rate(n, t - start) + "/s)");
    }

    private String line(long n, long t) {
        long elapsed = t - start;
        StringBuilder sb = new StringBuilder(description).append(": ");
        if (lengthNanos > 0) {
            return sb.append(seconds(elapsed)).append(" of ").append(seconds(lengthNanos)).append(", ")
                    .append(seconds(Math.max(0, lengthNanos - elapsed))).append(" left, ").append(n).append(" done (")
                    .append(rate(n, elapsed)).append("/s)").toString();
        }
        if (total > 0) {
            sb.append(n).append('/').append(total)
                    .append(String.format(Locale.ROOT, " (%.1f%%)", 100.0 * n / total));
        } else {
            sb.append(n);
        }
        sb.append(' ').append(rate(n, elapsed)).append("/s");
        if (total > 0 && n > 0 && n < total) {
            sb.append(" ETA ").append(seconds((long) ((double) elapsed / n * (total - n))));
        }
        return sb.toString();
    }

    private static String rate(long n, long nanos) {
        return nanos <= 0 ? "-" : String.format(Locale.ROOT, "%.1f", n * 1e9 / nanos);
    }

    private static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.1fs", nanos / 1e9);
    }
}
