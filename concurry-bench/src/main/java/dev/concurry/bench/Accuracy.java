package dev.concurry.bench;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.time.ManualClock;
import io.github.bucket4j.Bucket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * SPEC N5, accuracy: {@code threads} threads hammer {@code tryAcquire} of one limiter of
 * {@code capacity} per {@code window} on the system clock for {@code duration}, far more often than
 * it allows. Prints one line per limiter: how many were admitted, the most admitted in any interval
 * of length {@code window}, and the utilisation = admitted / (capacity × elapsed / window).
 *
 * <p>Each admission is timestamped by the thread as the interval [before the call, after it]; the
 * limiter read its clock somewhere inside. So the most admitted in one window is known between two
 * bounds: <em>proven</em> counts admissions whose whole interval lies in the window (if above
 * capacity, the limiter over-admitted for certain), <em>possible</em> counts those whose interval
 * touches it (if at most capacity, it certainly did not). With threads preempted between the call and
 * the timestamp, the bounds can be far apart; the proven bound is the one N5 is judged on.
 *
 * <p>Then the loads that put thousands of grants in one window (SPEC N5: 5,000 one-unit requests per
 * minute, tokens 10 at a time, a dollar budget in fractions of a cent), which the system clock cannot
 * run for long enough: Concurry's default {@code SLIDING_WINDOW} on a {@link ManualClock}, see
 * {@link #manyGrantsPerWindow}.
 *
 * <p>Usage: {@code Accuracy [seconds=3] [threads=4]}.
 */
public final class Accuracy {

    /** The outcome for one limiter. */
    public record Result(String name, double capacity, Duration window, int threads, long elapsedNanos,
            long attempts, int admitted, int maxProven, int maxPossible) {

        /** Admitted over what a strict limit allows in the elapsed time. */
        public double utilisation() {
            return admitted / (capacity * elapsedNanos / window.toNanos());
        }

        public String line() {
            return String.format(Locale.ROOT,
                    "%-28s %d threads  %.2f s  attempts %,11d  admitted %,6d  max in any %d ms window:"
                            + " %d proven .. %d possible (capacity %.0f)  utilisation %.1f%%",
                    name, threads, elapsedNanos / 1e9, attempts, admitted, window.toMillis(), maxProven,
                    maxPossible, capacity, 100 * utilisation());
        }
    }

    /**
     * One load of the many-grants run: {@code amount} per grant of {@code capacity} per {@code window}.
     *
     * @param grants every grant of the run
     * @param mostInWindow the most units granted in any interval of one window (capacity at most)
     * @param utilisation units granted in the measured windows ÷ what a strict limit allows in them
     */
    public record Saturation(String load, double capacity, Duration window, double amount, int windows,
            int measured, long grants, double mostInWindow, double utilisation) {

        public String line() {
            return String.format(Locale.ROOT,
                    "%-36s %,9d grants  most in any window %,.3f of %,.3f  utilisation %.2f%%",
                    load, grants, mostInWindow, capacity, 100 * utilisation);
        }
    }

    /** A limiter under test: its try-once and what to close after. */
    private record Contender(BooleanSupplier tryOnce, AutoCloseable resource) {
    }

    /** Builds a limiter right before its run, so that none accumulates credit while others run. */
    private record Entry(String name, Supplier<Contender> factory) {
    }

    private Accuracy() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        System.out.printf(Locale.ROOT, "N5 accuracy: capacity 100 per 100 ms, %d threads hammering tryAcquire"
                + " for %.1f s each, system clock%n", threads, seconds);
        for (Result r : runAll(Duration.ofMillis((long) (seconds * 1000)), threads, 100, Duration.ofMillis(100))) {
            System.out.println(r.line());
        }
        System.out.println();
        System.out.println("N5 many grants per window: concurry SLIDING_WINDOW on a manual clock, a client asking twice"
                + " as fast as allowed at random instants for 20 windows; utilisation over the last 10");
        for (Saturation s : manyGrantsPerWindow(20, 10)) {
            System.out.println(s.line());
        }
    }

    /**
     * The N5 loads with many grants per window, each for {@code windows} windows of manual-clock time
     * on an in-memory set (every backend runs the same sliding-window code). A window of 500 requests
     * per minute comes first: it holds fewer grants than the ring, so it is exact.
     */
    public static List<Saturation> manyGrantsPerWindow(int windows, int measured) {
        Duration minute = Duration.ofMinutes(1);
        return List.of(
                saturate("500 requests/min, 1 per call", 500, minute, 1, windows, measured),
                saturate("5,000 requests/min, 1 per call", 5_000, minute, 1, windows, measured),
                saturate("10,000 requests/min, 1 per call", 10_000, minute, 1, windows, measured),
                saturate("100,000 tokens/min, 10 per call", 100_000, minute, 10, windows, measured),
                saturate("$5/min, $0.002 per call", 5, minute, 0.002, windows, measured));
    }

    /**
     * A client asks for {@code amount} at random instants 1 ns to one grant's share of the window
     * (window × amount ÷ capacity) apart, twice as fast as the limit allows, with {@code tryAcquire}.
     * Every grant is recorded; the most units in any window are counted from that record, and the
     * utilisation over the last {@code measured} windows (the steady state: the first window's head
     * start would hide a delay in re-granting expired units).
     */
    static Saturation saturate(String load, double capacity, Duration window, double amount, int windows,
            int measured) {
        ManualClock clock = new ManualClock();
        SplittableRandom random = new SplittableRandom(42);
        long w = window.toNanos();
        long share = Math.round(w * amount / capacity);
        long end = windows * w;
        long[] times = new long[1024];
        int grants = 0;
        try (LimitSet set = LimitSet.builder().add(RateLimit.of("units", capacity, window))
                .backend(Backends.inMemory(clock)).build()) {
            Request request = Request.of("units", amount);
            while (clock.nanoTime() < end) {
                Optional<Acquisition> granted = set.tryAcquire(request);
                if (granted.isPresent()) {
                    granted.get().close();
                    if (grants == times.length) {
                        times = Arrays.copyOf(times, 2 * grants);
                    }
                    times[grants++] = clock.nanoTime();
                }
                clock.advanceNanos(Math.min(end - clock.nanoTime(), 1 + random.nextLong(share)));
            }
        }
        int most = 0;
        int first = 0;
        int steady = 0;
        for (int last = 0; last < grants; last++) {
            while (times[first] + w <= times[last]) {
                first++;
            }
            most = Math.max(most, last - first + 1);
            steady += times[last] >= (long) (windows - measured) * w ? 1 : 0;
        }
        return new Saturation(load, capacity, window, amount, windows, measured, grants, most * amount,
                steady * amount / (measured * capacity));
    }

    /** Runs every contender (Concurry's algorithms, then the peers) one after the other. */
    public static List<Result> runAll(Duration duration, int threads, int capacity, Duration window)
            throws Exception {
        List<Result> results = new ArrayList<>();
        for (Entry e : contenders(capacity, window)) {
            Contender c = e.factory().get();
            try {
                results.add(run(e.name(), c.tryOnce(), duration, threads, capacity, window));
            } finally {
                c.resource().close();
            }
        }
        return results;
    }

    private static List<Entry> contenders(int capacity, Duration window) {
        List<Entry> list = new ArrayList<>();
        for (RateAlgorithm algorithm : new RateAlgorithm[] {RateAlgorithm.SLIDING_WINDOW, RateAlgorithm.TOKEN_BUCKET,
                RateAlgorithm.GCRA, RateAlgorithm.LEAKY_BUCKET, RateAlgorithm.FIXED_WINDOW}) {
            list.add(new Entry("concurry " + algorithm, () -> {
                LimitSet set = Limiters.concurry("requests", algorithm, capacity, window);
                Request request = Request.of("requests", 1);
                return new Contender(() -> {
                    Optional<Acquisition> a = set.tryAcquire(request);
                    a.ifPresent(Acquisition::close);
                    return a.isPresent();
                }, set);
            }));
        }
        list.add(new Entry("resilience4j AtomicRateLimiter", () -> {
            var resilience4j = Limiters.resilience4j(capacity, window);
            return new Contender(resilience4j::acquirePermission, () -> {
            });
        }));
        list.add(new Entry("bucket4j local (greedy)", () -> {
            Bucket bucket = Limiters.bucket4j(capacity, window);
            return new Contender(() -> bucket.tryConsume(1), () -> {
            });
        }));
        // Guava knows only permits per second; its burst (stored permits) is one second's worth.
        list.add(new Entry("guava SmoothBursty", () -> {
            var guava = Limiters.guava(capacity * 1e9 / window.toNanos());
            return new Contender(guava::tryAcquire, () -> {
            });
        }));
        return list;
    }

    /** Hammers {@code tryOnce} from {@code threads} threads for {@code duration}. */
    public static Result run(String name, BooleanSupplier tryOnce, Duration duration, int threads, double capacity,
            Duration window) throws InterruptedException {
        CountDownLatch go = new CountDownLatch(1);
        long[] startAndDeadline = new long[2];
        Recorder[] recorders = new Recorder[threads];
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            Recorder r = recorders[t] = new Recorder();
            workers[t] = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                long deadline = startAndDeadline[1];
                long now;
                while ((now = System.nanoTime()) < deadline) {
                    r.attempts++;
                    if (tryOnce.getAsBoolean()) {
                        r.add(now, System.nanoTime());
                    }
                }
            }, "accuracy-" + t);
            workers[t].start();
        }
        startAndDeadline[0] = System.nanoTime();
        startAndDeadline[1] = startAndDeadline[0] + duration.toNanos();
        go.countDown();     // the latch publishes startAndDeadline to the workers
        for (Thread w : workers) {
            w.join();
        }
        long elapsed = duration.toNanos();
        int n = 0;
        long attempts = 0;
        for (Recorder r : recorders) {
            n += r.size;
            attempts += r.attempts;
        }
        long[][] intervals = new long[n][];
        int k = 0;
        for (Recorder r : recorders) {
            for (int i = 0; i < r.size; i++) {
                intervals[k++] = new long[] {r.before[i], r.after[i]};
            }
        }
        long w = window.toNanos();
        return new Result(name, capacity, window, threads, elapsed, attempts, n, maxProven(intervals, w),
                maxPossible(intervals, w));
    }

    /** Most intervals lying wholly inside one [t, t + w): a window can start at some interval's start. */
    static int maxProven(long[][] intervals, long w) {
        long[][] byBefore = intervals.clone();
        Arrays.sort(byBefore, (x, y) -> Long.compare(x[0], y[0]));
        int best = 0;
        for (int i = 0; i < byBefore.length; i++) {
            long end = byBefore[i][0] + w;
            int count = 0;
            int first = i;
            while (first > 0 && byBefore[first - 1][0] == byBefore[i][0]) {
                first--;
            }
            for (int j = first; j < byBefore.length && byBefore[j][0] < end; j++) {
                if (byBefore[j][1] < end) {
                    count++;
                }
            }
            best = Math.max(best, count);
        }
        return best;
    }

    /** Most intervals touching one [t, t + w): a window can start at some interval's end. */
    static int maxPossible(long[][] intervals, long w) {
        long[][] byAfter = intervals.clone();
        Arrays.sort(byAfter, (x, y) -> Long.compare(x[1], y[1]));
        long longest = 0;
        for (long[] iv : intervals) {
            longest = Math.max(longest, iv[1] - iv[0]);
        }
        int best = 0;
        for (int i = 0; i < byAfter.length; i++) {
            long start = byAfter[i][1];
            long end = start + w;
            int count = 0;
            int first = i;
            while (first > 0 && byAfter[first - 1][1] == start) {
                first--;
            }
            for (int j = first; j < byAfter.length && byAfter[j][1] < end + longest; j++) {
                if (byAfter[j][0] < end) {
                    count++;
                }
            }
            best = Math.max(best, count);
        }
        return best;
    }

    /** One thread's admissions. */
    private static final class Recorder {
        long[] before = new long[1024];
        long[] after = new long[1024];
        int size;
        long attempts;

        void add(long b, long a) {
            if (size == before.length) {
                before = Arrays.copyOf(before, size * 2);
                after = Arrays.copyOf(after, size * 2);
            }
            before[size] = b;
            after[size] = a;
            size++;
        }
    }
}
