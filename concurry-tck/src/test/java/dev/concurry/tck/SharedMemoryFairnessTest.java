package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fair waiting across JVMs on the shared-memory backend (SPEC L12, N4c; issue 20): three child JVMs
 * with six threads each and equal demand wait on one set for about 10 s. Each thread logs, around every
 * acquisition, the interval in which it queued (before {@code acquireAsync} and after it returned: the
 * waiter is in the queue by then) and the interval it held the one permit of {@code conn}. The checker
 * reads only those logs: the per-JVM grant counts must have Jain's index ≥ 0.98, and no waiter may
 * hold the permit before one that had certainly queued at least 5 ms before it started queueing (held
 * intervals of a single permit never overlap, so their order is the order of the grants).
 */
class SharedMemoryFairnessTest {
    private static final int JVMS = 3;
    private static final int THREADS = 6;
    private static final long RUN_NANOS = Duration.ofSeconds(10).toNanos();
    private static final long ORDER_SLACK_NANOS = Duration.ofMillis(5).toNanos();

    @TempDir
    Path dir;

    static LimitSet fairSet(Path file) {
        return LimitSet.builder()
                .name("fair")
                .add(ResourceLimit.of("conn", 1))
                .add(RateLimit.of("calls", 2_000, Duration.ofSeconds(1)))
                .backend(Backends.sharedMemory(file))
                .build();
    }

    /**
     * Child JVM: {@code fair <file> <log>}: opens the set, prints READY, reads {@code GO <start> <end>}
     * (nanoTime instants, one host-wide clock), and from start to end runs six threads that each acquire
     * {@code conn} and {@code calls}, hold the permit for about 0.3 ms and release it, logging
     * {@code G <queueing> <queued> <held from> <held to>} (or {@code T <queueing>} when not granted
     * within 10 s) per attempt.
     */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            LimitSet set = fairSet(Path.of(args[1]));
            System.out.println("READY");
            String[] go = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine()
                    .split(" ");
            long start = Long.parseLong(go[1]);
            long end = Long.parseLong(go[2]);
            List<String> lines = Collections.synchronizedList(new ArrayList<>());
            Request request = Request.of("conn", 1).and("calls", 1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                SplittableRandom random = new SplittableRandom(start + t);
                threads.add(Thread.ofPlatform().start(() -> {
                    while (System.nanoTime() - start < 0) {
                        LockSupport.parkNanos(100_000);
                    }
                    while (System.nanoTime() - end < 0) {
                        long queueing = System.nanoTime();
                        CompletableFuture<Acquisition> waiting = set.acquireAsync(request);
                        long queued = System.nanoTime();
                        Acquisition acq;
                        try {
                            acq = waiting.get(10, TimeUnit.SECONDS);
                        } catch (TimeoutException | InterruptedException | ExecutionException e) {
                            waiting.cancel(false);
                            lines.add("T " + queueing);
                            continue;
                        }
                        try (acq) {
                            long from = System.nanoTime();
                            LockSupport.parkNanos(200_000 + random.nextInt(200_000));
                            long to = System.nanoTime();
                            lines.add("G " + queueing + " " + queued + " " + from + " " + to);
                        }
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            try (Writer out = Files.newBufferedWriter(Path.of(args[2]))) {
                for (String line : lines) {
                    out.write(line);
                    out.write('\n');
                }
            }
            set.close();
            System.out.println("DONE");
        }
    }

    /** One attempt read back from a log: it queued within [queueing, queued] and held within [from, to]. */
    private record Attempt(int jvm, long queueing, long queued, long from, long to, boolean granted) {
    }

    @Test
    @DisplayName("L12 N4c three JVMs with equal demand: Jain's index >= 0.98 and first come, first served across JVMs")
    void waiters_are_served_in_order_across_jvms() throws Exception {
        Path file = dir.resolve("fair.limits");
        fairSet(file).close();
        List<ChildJvm> children = new ArrayList<>();
        List<Attempt> attempts = new ArrayList<>();
        try {
            for (int c = 0; c < JVMS; c++) {
                children.add(ChildJvm.start(dir, List.of(), Child.class, "fair", file.toString(),
                        dir.resolve("fair-" + c + ".log").toString()));
            }
            for (ChildJvm child : children) {
                assertThat(child.readLine()).isEqualTo("READY");
            }
            long start = System.nanoTime() + Duration.ofMillis(500).toNanos();
            for (ChildJvm child : children) {
                child.println("GO " + start + " " + (start + RUN_NANOS));
            }
            for (int c = 0; c < JVMS; c++) {
                ChildJvm child = children.get(c);
                assertThat(child.readLine()).as("child %d; stderr: %s", c, child.stderrText()).isEqualTo("DONE");
                assertThat(child.exitCode(Duration.ofSeconds(30))).isZero();
                for (String line : Files.readAllLines(dir.resolve("fair-" + c + ".log"))) {
                    String[] f = line.split(" ");
                    attempts.add(f[0].equals("G")
                            ? new Attempt(c, Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                                    Long.parseLong(f[4]), true)
                            : new Attempt(c, Long.parseLong(f[1]), -1, -1, -1, false));
                }
            }
        } finally {
            for (ChildJvm child : children) {
                child.close();
            }
        }

        long[] perJvm = new long[JVMS];
        List<Attempt> grants = new ArrayList<>();
        for (Attempt a : attempts) {
            if (a.granted()) {
                perJvm[a.jvm()]++;
                grants.add(a);
            }
        }
        double sum = 0;
        double squares = 0;
        for (long n : perJvm) {
            sum += n;
            squares += (double) n * n;
        }
        double jain = sum * sum / (JVMS * squares);
        System.out.printf("shared-memory fairness: grants per JVM %s, Jain's index %.4f%n",
                Arrays.toString(perJvm), jain);

        // One permit: the held intervals (each inside the real holding) never overlap, so their order is
        // the order of the grants.
        grants.sort(Comparator.comparingLong(Attempt::from));
        for (int i = 1; i < grants.size(); i++) {
            assertThat(grants.get(i).from()).as("permit held twice at once").isGreaterThan(grants.get(i - 1).to());
        }
        // No grant before that of a waiter that certainly queued >= 5 ms earlier: B started queueing at
        // least 5 ms after A had queued, yet B held the permit before A. Scanning B by when it started
        // queueing, A ranges over the attempts that had queued 5 ms before; the latest-held of them
        // must not come after B.
        List<Attempt> byQueueing = new ArrayList<>(grants);
        byQueueing.sort(Comparator.comparingLong(Attempt::queueing));
        List<Attempt> byQueued = new ArrayList<>(grants);
        byQueued.sort(Comparator.comparingLong(Attempt::queued));
        int earlier = 0;
        Attempt latestEarlier = null;
        int violations = 0;
        String first = null;
        for (Attempt b : byQueueing) {
            while (earlier < byQueued.size() && byQueued.get(earlier).queued() + ORDER_SLACK_NANOS <= b.queueing()) {
                Attempt a = byQueued.get(earlier++);
                if (latestEarlier == null || a.from() > latestEarlier.from()) {
                    latestEarlier = a;
                }
            }
            if (latestEarlier != null && b.to() < latestEarlier.from()) {
                violations++;
                if (first == null) {
                    first = String.format("JVM %d started queueing at %d and held the permit at %d, before JVM %d"
                            + " which had queued %.1f ms earlier (by %d) and held it at %d", b.jvm(), b.queueing(),
                            b.from(), latestEarlier.jvm(), (b.queueing() - latestEarlier.queued()) / 1e6,
                            latestEarlier.queued(), latestEarlier.from());
                }
            }
        }
        long slowestQueueing = grants.stream().mapToLong(a -> a.queued() - a.queueing()).max().orElse(0);
        System.out.printf("shared-memory fairness: longest acquireAsync call %.1f ms%n", slowestQueueing / 1e6);
        System.out.printf("shared-memory fairness: %d grants, %d granted before a waiter that queued >= 5 ms earlier%n",
                grants.size(), violations);
        assertThat(attempts).as("timed out attempts").noneMatch(a -> !a.granted());
        assertThat(grants.size()).as("grants").isGreaterThan(300);
        assertThat(jain).as("Jain's index of grants per JVM %s", Arrays.toString(perJvm))
                .isGreaterThanOrEqualTo(0.98);
        assertThat(violations).as("grants overtaking a waiter that queued >= 5 ms earlier; first: %s", first).isZero();
    }
}
