package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.ProviderReport;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared-memory backend across real processes (SPEC L17): child JVMs started with this JVM's java
 * and classpath share one set through a file. Time is {@code System.nanoTime()}, one host-wide clock,
 * so the children's logs can be compared.
 */
class SharedMemoryProcessesTest {
    private static final long WINDOW_NANOS = Duration.ofMillis(100).toNanos();
    private static final double CAPACITY = 40;
    private static final int PERMITS = 3;
    private static final int CHILDREN = 3;

    @TempDir
    Path dir;

    static LimitSet hammerSet(Path file) {
        return LimitSet.builder()
                .name("hammer")
                .add(RateLimit.of("units", CAPACITY, Duration.ofNanos(WINDOW_NANOS)))
                .add(ResourceLimit.of("conn", PERMITS))
                .backend(Backends.sharedMemory(file))
                .build();
    }

    static LimitSet holderSet(Path file) {
        return LimitSet.builder()
                .name("holder")
                .add(ResourceLimit.of("conn", PERMITS))
                .add(RateLimit.of("units", 1_000, Duration.ofSeconds(1)))
                .backend(Backends.sharedMemory(file))
                .build();
    }

    // ---- children ----------------------------------------------------------------------------------

    /** Child JVM: {@code hammer <file> <log> <startAtNanos> <runNanos>} or {@code hold <file>}. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            switch (args[0]) {
                case "hammer" ->
                    hammer(Path.of(args[1]), Path.of(args[2]), Long.parseLong(args[3]), Long.parseLong(args[4]));
                case "hold" -> hold(Path.of(args[1]));
                case "crash" -> crash(Path.of(args[1]));
                case "observe" -> observe(Path.of(args[1]));
                default -> throw new IllegalArgumentException(args[0]);
            }
        }

        /** 4 threads hammer the set; each grant is logged with the times around its acquiring call. */
        static void hammer(Path file, Path logFile, long startAt, long runNanos) throws Exception {
            LimitSet set = hammerSet(file);
            List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> threads = new ArrayList<>();
            while (System.nanoTime() < startAt) {
                LockSupport.parkNanos(1_000_000);
            }
            long end = startAt + runNanos;
            for (int t = 0; t < 4; t++) {
                SplittableRandom random = new SplittableRandom(System.nanoTime() + t);
                threads.add(Thread.ofPlatform().start(() -> {
                    while (System.nanoTime() - end < 0) {
                        hammerOnce(set, random, end, lines);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            try (Writer out = Files.newBufferedWriter(logFile)) {
                for (String line : lines) {
                    out.write(line);
                    out.write('\n');
                }
            }
            System.out.println("DONE");
        }

        private static void hammerOnce(LimitSet set, SplittableRandom random, long end, List<String> lines) {
            int units = 1 + random.nextInt(3);
            int shape = random.nextInt(3);
            Request request = switch (shape) {
                case 0 -> Request.of("units", units);
                case 1 -> Request.of("units", units).and("conn", 1);
                default -> Request.of("conn", 1);
            };
            long before;
            Acquisition acq;
            if (random.nextInt(10) < 7) {
                Optional<Acquisition> now;
                do {
                    before = System.nanoTime();
                    now = set.tryAcquire(request);
                    if (now.isEmpty()) {
                        if (System.nanoTime() - end > 0) {
                            return;
                        }
                        LockSupport.parkNanos(20_000);
                    }
                } while (now.isEmpty());
                acq = now.get();
            } else {
                before = System.nanoTime();
                try {
                    acq = set.acquire(request, Duration.ofMillis(100));
                } catch (AcquireTimeoutException e) {
                    return;
                }
            }
            long after = System.nanoTime();
            double counted = shape == 2 ? 0 : units;
            long enter;
            long exit;
            try (acq) {
                enter = System.nanoTime();
                if (shape < 2 && random.nextInt(4) == 0) {
                    counted = random.nextInt(units + 1);
                    acq.update("units", counted);
                }
                LockSupport.parkNanos(random.nextInt(300_000));
                exit = System.nanoTime();
            }
            lines.add("G " + before + " " + after + " " + counted + " " + (shape > 0 ? enter + " " + exit : "- -"));
        }

        /**
         * Holds two single permits; on "release" closes one and prints RELEASED with the time; then
         * holds the other until killed.
         */
        static void hold(Path file) throws IOException {
            LimitSet set = holderSet(file);
            Acquisition first = set.acquire(Request.of("conn", 1));
            Acquisition second = set.acquire(Request.of("conn", 1));
            System.out.println("HELD");
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            if ("release".equals(in.readLine())) {
                long at = System.nanoTime();
                first.close();
                System.out.println("RELEASED " + at);
            }
            in.readLine();
            second.close();
        }

        /** Many threads acquire and release as fast as they can, until killed. */
        static void crash(Path file) {
            LimitSet set = holderSet(file);
            for (int t = 0; t < 4; t++) {
                Thread.ofPlatform().start(() -> {
                    while (true) {
                        try (Acquisition acq = set.acquire(Request.of("conn", 1).and("units", 1))) {
                            acq.update("units", 0.5);
                        }
                    }
                });
            }
            System.out.println("RUNNING");
        }
    }

    static LimitSet feedbackSet(Path file) {
        return LimitSet.builder()
                .name("feedback")
                .add(RateLimit.of("units", 100, Duration.ofSeconds(1)))
                .backend(Backends.sharedMemory(file))
                .build();
    }

    /** A child that hears from the provider: 2 units left for a minute, and a 429 with Retry-After 1 s. */
    static void observe(Path file) {
        try (LimitSet set = feedbackSet(file)) {
            long at = System.nanoTime();
            set.observe(ProviderReport.builder().remaining("units", 2, Duration.ofMinutes(1))
                    .retryAfter(Duration.ofSeconds(1)).build());
            System.out.println("OBSERVED " + at);
        }
    }

    // ---- tests -------------------------------------------------------------------------------------

    /** One grant read back from a child's log. */
    private record Grant(long before, long after, double units, long enter, long exit) {
    }

    @Test
    @DisplayName("L17 three JVMs hammering one file never exceed the sliding window nor the permits")
    void children_share_one_quota() throws Exception {
        Path file = dir.resolve("hammer.limits");
        long startAt = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        long runNanos = Duration.ofSeconds(2).toNanos();
        List<ChildJvm> children = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        try {
            for (int c = 0; c < CHILDREN; c++) {
                Path log = dir.resolve("grants-" + c + ".log");
                logs.add(log);
                children.add(ChildJvm.start(dir, Child.class, "hammer", file.toString(), log.toString(),
                        Long.toString(startAt), Long.toString(runNanos)));
            }
            for (ChildJvm child : children) {
                assertThat(child.exitCode(Duration.ofSeconds(40))).as("child exit code; " + child.stderrText())
                        .isZero();
            }
        } finally {
            for (ChildJvm child : children) {
                child.close();
            }
        }

        List<Grant> grants = new ArrayList<>();
        for (Path log : logs) {
            for (String line : Files.readAllLines(log)) {
                String[] f = line.split(" ");
                grants.add(new Grant(Long.parseLong(f[1]), Long.parseLong(f[2]), Double.parseDouble(f[3]),
                        f[4].equals("-") ? -1 : Long.parseLong(f[4]), f[5].equals("-") ? -1 : Long.parseLong(f[5])));
            }
        }
        // Sliding window: grants certainly inside [b_i, b_i + W) never sum above capacity (see the
        // in-memory stress test for why this check is sound).
        grants.sort(Comparator.comparingLong(Grant::before));
        double fullest = 0;
        for (int i = 0; i < grants.size(); i++) {
            long start = grants.get(i).before();
            double sum = 0;
            for (int j = i; j < grants.size() && grants.get(j).before() < start + WINDOW_NANOS; j++) {
                if (grants.get(j).after() < start + WINDOW_NANOS) {
                    sum += grants.get(j).units();
                }
            }
            assertThat(sum).as("units certainly granted in one window from %d", start)
                    .isLessThanOrEqualTo(CAPACITY + 1e-9);
            fullest = Math.max(fullest, sum);
        }
        assertThat(grants.size()).as("grants").isGreaterThan(200);
        assertThat(fullest).as("fullest window the check could prove").isGreaterThanOrEqualTo(CAPACITY / 2);

        // Resource: the logged holding intervals lie inside the real ones, so they never overlap more
        // than PERMITS deep.
        List<long[]> events = new ArrayList<>();
        for (Grant g : grants) {
            if (g.enter() >= 0) {
                events.add(new long[] {g.enter(), 1});
                events.add(new long[] {g.exit(), -1});
            }
        }
        events.sort(Comparator.<long[]>comparingLong(e -> e[0]).thenComparingLong(e -> e[1]));
        int depth = 0;
        int deepest = 0;
        for (long[] e : events) {
            depth += (int) e[1];
            deepest = Math.max(deepest, depth);
        }
        assertThat(deepest).as("most permits held at once across processes").isBetween(1, PERMITS);

        try (LimitSet set = hammerSet(file)) {
            LimitStats stats = set.stats();
            assertThat(stats.key("conn").inUse()).as("every permit is back").isZero();
            assertThat(stats.granted()).as("counters are this JVM's: a fresh set has granted nothing").isZero();
            assertThat(set.tryAcquire(Request.of("conn", PERMITS))).isPresent();
        }
    }

    @Test
    @DisplayName("L17 a release in another JVM wakes a waiter; permits of a JVM killed with SIGKILL come back")
    void release_wakes_and_killed_holder_is_reclaimed() throws Exception {
        Path file = dir.resolve("holder.limits");
        try (ChildJvm child = ChildJvm.start(dir, Child.class, "hold", file.toString());
                LimitSet set = holderSet(file)) {
            assertThat(child.readLine()).isEqualTo("HELD");
            assertThat(set.stats().key("conn").inUse()).isEqualTo(2);
            assertThat(set.tryAcquire(Request.of("conn", 2))).isEmpty();

            // A waiter here is woken by the child's release.
            CompletableFuture<Long> granted = CompletableFuture.supplyAsync(() -> {
                try (Acquisition acq = set.acquire(Request.of("conn", 2), Duration.ofSeconds(20))) {
                    return System.nanoTime();
                }
            });
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (set.stats().waiting() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            child.println("release");
            String released = child.readLine();
            assertThat(released).startsWith("RELEASED ");
            long latency = granted.get(20, TimeUnit.SECONDS) - Long.parseLong(released.substring(9));
            System.out.printf("shared-memory cross-process wake-up latency: %.3f ms%n", latency / 1e6);
            assertThat(latency).as("wake-up latency after a release in another JVM (generous: busy CI)")
                    .isLessThan(Duration.ofMillis(500).toNanos());
            assertThat(set.stats().key("conn").inUse()).isEqualTo(1);

            // SIGKILL while holding one permit: it comes back, and the set is consistent.
            child.process.destroyForcibly();
            assertThat(child.process.waitFor(20, TimeUnit.SECONDS)).isTrue();
            long killed = System.nanoTime();
            try (Acquisition all = set.acquire(Request.of("conn", PERMITS).and("units", 10), Duration.ofSeconds(10))) {
                System.out.printf("permits of the killed JVM reclaimed after %.1f ms%n",
                        (System.nanoTime() - killed) / 1e6);
                LimitStats stats = set.stats();
                assertThat(stats.key("conn").inUse()).isEqualTo(PERMITS);
                assertThat(stats.key("conn").available()).isZero();
            }
            LimitStats stats = set.stats();
            assertThat(stats.key("conn").inUse()).isZero();
            assertThat(stats.key("units").inUse()).isEqualTo(10);
        }
    }

    @Test
    @DisplayName("F2 F3 L17 what one JVM heard from the provider holds in another: the pause and the budget")
    void provider_feedback_is_shared_across_processes() throws Exception {
        Path file = dir.resolve("feedback.limits");
        try (LimitSet set = feedbackSet(file)) {
            long pauseFrom;
            try (ChildJvm child = ChildJvm.start(dir, Child.class, "observe", file.toString())) {
                String observed = child.readLine();
                assertThat(observed).startsWith("OBSERVED ");
                pauseFrom = Long.parseLong(observed.substring(9));
                assertThat(child.process.waitFor(20, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(set.tryAcquire(Request.of("units", 1))).as("paused by the other JVM's 429").isEmpty();
            try (Acquisition first = set.acquire(Request.of("units", 1), Duration.ofSeconds(20))) {
                assertThat(System.nanoTime() - pauseFrom).as("granted only once the pause ended")
                        .isGreaterThanOrEqualTo(Duration.ofSeconds(1).toNanos());
            }
            assertThat(set.tryAcquire(Request.of("units", 1))).as("the second of the 2 units left").isPresent();
            assertThat(set.tryAcquire(Request.of("units", 1))).as("the provider's budget is spent").isEmpty();
        }
    }

    @Test
    @DisplayName("L17 JVMs killed with SIGKILL mid-operation leave the state consistent (lock stolen, log replayed)")
    void killed_mid_operation_leaves_state_consistent() throws Exception {
        Path file = dir.resolve("crash.limits");
        for (int round = 0; round < 3; round++) {
            try (ChildJvm child = ChildJvm.start(dir, Child.class, "crash", file.toString())) {
                assertThat(child.readLine()).isEqualTo("RUNNING");
                Thread.sleep(150 + 100 * round);
            }
            try (LimitSet set = holderSet(file)) {
                try (Acquisition all = set.acquire(Request.of("conn", PERMITS), Duration.ofSeconds(10))) {
                    assertThat(set.stats().key("conn").inUse()).isEqualTo(PERMITS);
                }
                LimitStats stats = set.stats();
                assertThat(stats.key("conn").inUse()).as("round %d", round).isZero();
                assertThat(stats.key("units").inUse()).as("round %d", round).isBetween(0.0, 1_000.0);
                assertThat(stats.granted()).isGreaterThan(0);
            }
        }
    }

    @Test
    @DisplayName("L17 a file that is not a valid set is refused and left untouched")
    void invalid_files_are_refused() throws Exception {
        Path garbage = dir.resolve("garbage.limits");
        byte[] bytes = new byte[4096];
        new SplittableRandom(1).nextBytes(bytes);
        Files.write(garbage, bytes);
        assertThatThrownBy(() -> holderSet(garbage)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("wrong magic number").hasMessageContaining(garbage.toString());
        assertThat(Files.readAllBytes(garbage)).as("left untouched").isEqualTo(bytes);

        Path tiny = dir.resolve("tiny.limits");
        Files.write(tiny, new byte[10]);
        assertThatThrownBy(() -> holderSet(tiny)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("fewer than");

        Path valid = dir.resolve("valid.limits");
        holderSet(valid).close();
        byte[] good = Files.readAllBytes(valid);

        Path version = dir.resolve("version.limits");
        byte[] v = good.clone();
        v[8] = 99;      // the format version (native byte order: low byte first on x86 and ARM)
        Files.write(version, v);
        assertThatThrownBy(() -> holderSet(version)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("format version");

        Path truncated = dir.resolve("truncated.limits");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length - 8));
        assertThatThrownBy(() -> holderSet(truncated)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("truncated or corrupted");
        assertThat(Files.size(truncated)).isEqualTo(good.length - 8);

        Path log = dir.resolve("log.limits");
        byte[] l = good.clone();
        l[80] = (byte) 0xff;     // redo log count
        l[87] = (byte) 0x7f;
        Files.write(log, l);
        assertThatThrownBy(() -> holderSet(log)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("redo log");
    }

    @Test
    @DisplayName("L17 a file made for other specs is refused, naming both")
    void spec_mismatch_is_refused() {
        Path file = dir.resolve("specs.limits");
        LimitSet first = LimitSet.builder().name("api").add(RateLimit.of("requests", 10, Duration.ofSeconds(1)))
                .backend(Backends.sharedMemory(file)).build();
        try {
            // The same JVM (file already open) and, after close, a fresh open read the file's header.
            for (int attempt = 0; attempt < 2; attempt++) {
                assertThatThrownBy(() -> LimitSet.builder().name("api")
                        .add(RateLimit.of("requests", 20, Duration.ofSeconds(1)))
                        .backend(Backends.sharedMemory(file)).build())
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining(file.toString())
                        .hasMessageContaining("RateLimit(requests, 10.0 per 1000000000 ns, SLIDING_WINDOW)")
                        .hasMessageContaining("RateLimit(requests, 20.0 per 1000000000 ns, SLIDING_WINDOW)");
                first.close();
            }
        } finally {
            first.close();
        }
        // The same specs open it fine and share its state.
        try (LimitSet a = LimitSet.builder().name("api").add(RateLimit.of("requests", 10, Duration.ofSeconds(1)))
                .backend(Backends.sharedMemory(file)).build();
                LimitSet b = LimitSet.builder().name("api").add(RateLimit.of("requests", 10, Duration.ofSeconds(1)))
                        .backend(Backends.sharedMemory(file)).build()) {
            assertThat(a.tryAcquire(Request.of("requests", 10))).isPresent();
            assertThat(b.tryAcquire(Request.of("requests", 1))).isEmpty();
            assertThat(b.backend().crossProcess()).isTrue();
        }
    }

    @Test
    @DisplayName("L17 the default file is derived from the set's name under java.io.tmpdir")
    void default_file_from_name() throws IOException {
        String name = "shm-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        Path expected = Path.of(System.getProperty("java.io.tmpdir"), "concurry-" + name + ".limits");
        try (LimitSet set = LimitSet.builder().name(name).add(ResourceLimit.of("conn", 2))
                .backend(Backends.sharedMemory()).build()) {
            assertThat(expected).exists();
            assertThat(set.tryAcquire(Request.of("conn", 2))).isPresent();
        } finally {
            Files.deleteIfExists(expected);
        }
    }
}
