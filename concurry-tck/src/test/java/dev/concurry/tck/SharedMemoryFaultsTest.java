package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared-memory backend when other processes misbehave (SPEC L17, issue 17 S1–S3): a lock holder
 * that died and whose pid now names another live process, a peer paused (SIGSTOP) inside the lock, and
 * a file truncated while in use. Each runs real child JVMs; the SIGSTOP tests are skipped where
 * {@code kill -STOP} cannot be used.
 */
class SharedMemoryFaultsTest {
    private static final Request HOT = Request.of("hot", 1);
    private static final Request SLOW = Request.of("slow", 1);

    @TempDir
    Path dir;

    /** The set of the spinning child: a limit it takes in a loop and a slow one for waiters. */
    static LimitSet spinSet(Path file) {
        return LimitSet.builder()
                .name("spin")
                .add(RateLimit.of("hot", 1e9, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET))
                .add(RateLimit.of("slow", 1, Duration.ofMillis(400), RateAlgorithm.TOKEN_BUCKET))
                .add(ResourceLimit.of("conn", 4))
                .backend(Backends.sharedMemory(file))
                .build();
    }

    /** Child JVM: {@code spin <file>} takes the lock in a loop; {@code truncated <file>} see below. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            switch (args[0]) {
                case "spin" -> spin(Path.of(args[1]));
                case "truncated" -> truncated(Path.of(args[1]));
                default -> throw new IllegalArgumentException(args[0]);
            }
        }

        static void spin(Path file) {
            LimitSet set = spinSet(file);
            Request both = Request.of("hot", 1).and("conn", 1);
            for (int t = 0; t < 2; t++) {
                Thread.ofPlatform().start(() -> {
                    while (true) {
                        set.tryAcquire(both).ifPresent(Acquisition::close);
                    }
                });
            }
            System.out.println("RUNNING");
        }

        /**
         * Uses the set, prints READY, waits for a line (the parent truncates the file meanwhile), then
         * reports what each operation did, one line each, and DONE.
         */
        static void truncated(Path file) throws Exception {
            LimitSet set = spinSet(file);
            Request both = Request.of("hot", 1).and("conn", 1);
            for (int i = 0; i < 20_000; i++) {
                set.tryAcquire(both).ifPresent(Acquisition::close);
            }
            Acquisition held = set.acquire(both);
            System.out.println("READY");
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            report("TRY", () -> set.tryAcquire(both).ifPresent(Acquisition::close));
            report("ACQUIRE", () -> set.acquire(both, Duration.ofMillis(200)).close());
            report("STATS", set::stats);
            report("CLOSE-HELD", held::close);
            report("CLOSE-SET", set::close);
            System.out.println("DONE");
        }

        private static void report(String what, Runnable operation) {
            try {
                operation.run();
                System.out.println(what + " ok");
            } catch (Throwable t) {
                System.out.println(what + " " + t.getClass().getSimpleName() + ": " + t.getMessage());
            }
        }
    }

    @Test
    @DisplayName("L17 S1 a holder killed inside the lock whose pid now names another live process: its lock is taken over")
    void lock_of_a_dead_holder_whose_pid_came_back_is_taken_over() throws Exception {
        assumeTrue(ChildJvm.canStop(), "kill -STOP is not available here: cannot catch a child inside the lock");
        Path file = dir.resolve("s1.limits");
        try (ChildJvm child = ChildJvm.start(dir, Child.class, "spin", file.toString())) {
            assertThat(child.readLine()).isEqualTo("RUNNING");
            child.stopInsideLock(file);
            child.process.destroyForcibly();                     // SIGKILL inside the lock
            assertThat(child.process.waitFor(20, TimeUnit.SECONDS)).isTrue();
        }
        // The dead holder's pid comes back as a live process of another incarnation: pid 1 (as for the
        // JVM of a restarted container) or, where pid 1 is not visible, this very JVM.
        long word = ChildJvm.readLong(file, ChildJvm.LOCK_WORD);
        assertThat(word).as("the killed child still owns the lock word").isNotZero();
        long livePid = ProcessHandle.of(1).isPresent() ? 1 : ProcessHandle.current().pid();
        ChildJvm.writeLong(file, ChildJvm.LOCK_WORD, (word & 0xFFFF_FFFF_0000_0000L) | livePid);

        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            try (LimitSet set = spinSet(file)) {
                try (Acquisition all = set.acquire(Request.of("conn", 4), Duration.ofSeconds(10))) {
                    assertThat(set.stats().key("conn").inUse()).isEqualTo(4);
                }
                assertThat(set.stats().key("conn").inUse()).as("the killed child's permits came back").isZero();
            }
        }, "the lock of a dead holder whose pid is alive again must be taken over");
        assertThat(ChildJvm.readLong(file, ChildJvm.LOCK_WORD)).isZero();
    }

    @Test
    @DisplayName("L17 S2 a peer paused inside the lock: tryAcquire refuses, timeouts fire, releases wait, other sets' timers run")
    void peer_paused_inside_the_lock_holds_nothing_hostage() throws Exception {
        assumeTrue(ChildJvm.canStop(), "kill -STOP is not available here: cannot pause a child inside the lock");
        Path file = dir.resolve("s2.limits");
        try (ChildJvm child = ChildJvm.start(dir, Child.class, "spin", file.toString());
                LimitSet set = spinSet(file);
                LimitSet unrelated = LimitSet.builder()
                        .add(RateLimit.of("r", 1, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET)).build()) {
            assertThat(child.readLine()).isEqualTo("RUNNING");
            set.acquire(SLOW).close();
            // Queued now; its wake-up (the slow bucket refills in 400 ms) falls while the child is stopped.
            CompletableFuture<Acquisition> queued = set.acquireAsync(SLOW);
            Acquisition allPermits = set.acquire(Request.of("conn", 4), Duration.ofSeconds(10));
            unrelated.acquire(Request.of("r", 1)).close();
            long unrelatedStart = System.nanoTime();
            child.stopInsideLock(file);
            try {
                // An in-memory acquisition due in about 1 s is granted on time.
                CompletableFuture<Long> unrelatedGrant = CompletableFuture.supplyAsync(() -> {
                    unrelated.acquire(Request.of("r", 1), Duration.ofSeconds(3)).close();
                    return System.nanoTime();
                });
                long grantedAfter = unrelatedGrant.get(8, TimeUnit.SECONDS) - unrelatedStart;
                assertThat(grantedAfter).as("unrelated in-memory grant due at 1 s, granted after (ns)")
                        .isLessThan(Duration.ofMillis(2_500).toNanos());

                long before = set.stats().rejected();
                long t = System.nanoTime();
                Optional<Acquisition> tried = CompletableFuture.supplyAsync(() -> set.tryAcquire(HOT))
                        .get(8, TimeUnit.SECONDS);
                assertThat(tried).as("tryAcquire while the file is locked by a stopped process").isEmpty();
                assertThat(System.nanoTime() - t).as("tryAcquire returned within (ns)")
                        .isLessThan(Duration.ofSeconds(2).toNanos());
                assertThat(set.stats().rejected()).as("counted as a rejection").isEqualTo(before + 1);

                t = System.nanoTime();
                CompletableFuture<Throwable> timedOut = CompletableFuture.supplyAsync(() -> {
                    try {
                        set.acquire(HOT, Duration.ofMillis(300)).close();
                        return null;
                    } catch (RuntimeException e) {
                        return e;
                    }
                });
                assertThat(timedOut.get(8, TimeUnit.SECONDS)).isInstanceOf(AcquireTimeoutException.class);
                assertThat(System.nanoTime() - t).as("acquire(300 ms) gave up within (ns)")
                        .isLessThan(Duration.ofSeconds(3).toNanos());
                assertThat(queued).as("nothing can be granted while the file is locked").isNotDone();

                t = System.nanoTime();
                CompletableFuture.runAsync(allPermits::close).get(8, TimeUnit.SECONDS);
                assertThat(System.nanoTime() - t).as("closing an acquisition returned within (ns)")
                        .isLessThan(Duration.ofSeconds(2).toNanos());
            } finally {
                child.signal("CONT");
            }
            // Once the peer runs again, everything proceeds: the release made meanwhile is applied.
            queued.get(10, TimeUnit.SECONDS).close();
            long permitsDeadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            Optional<Acquisition> permits = set.tryAcquire(Request.of("conn", 4));
            while (permits.isEmpty() && System.nanoTime() < permitsDeadline) {
                Thread.sleep(5);
                permits = set.tryAcquire(Request.of("conn", 4));
            }
            assertThat(permits).as("the 4 permits released while the file was locked came back").isPresent();
            permits.get().close();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            Optional<Acquisition> again = set.tryAcquire(HOT);
            while (again.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
                again = set.tryAcquire(HOT);
            }
            assertThat(again).isPresent();
            again.get().close();
        }
    }

    @Test
    @DisplayName("L17 S3 a file truncated while in use fails with a clear exception instead of crashing the JVM")
    void truncated_file_fails_clearly() throws Exception {
        // Interpreted (a CAS on a vanished page is fatal there) and compiled.
        List<List<String>> modes = List.of(List.of("-Xint"), List.of("-XX:TieredStopAtLevel=1"), List.of());
        for (int mode = 0; mode < modes.size(); mode++) {
            List<String> options = modes.get(mode);
            Path file = dir.resolve("s3-" + mode + ".limits");
            try (ChildJvm child = ChildJvm.start(dir, options, Child.class, "truncated", file.toString())) {
                assertThat(child.readLine()).isEqualTo("READY");
                try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                    ch.truncate(0);
                }
                child.println("go");
                List<String> lines = new ArrayList<>();
                for (String line = child.readLine(); line != null && !line.equals("DONE"); line = child.readLine()) {
                    lines.add(line);
                }
                assertThat(child.exitCode(Duration.ofSeconds(30))).as("exit code with %s; stderr: %s", options,
                        child.stderrText()).isZero();
                assertThat(lines).as("with %s", options).hasSize(5);
                for (String op : List.of("TRY", "ACQUIRE", "STATS")) {
                    assertThat(lines).as("with %s", options).anySatisfy(line -> assertThat(line)
                            .startsWith(op + " IllegalStateException: ")
                            .contains(file.toString()).contains("truncated"));
                }
                assertThat(lines).as("closing never throws").contains("CLOSE-HELD ok", "CLOSE-SET ok");
            }
        }
        assertThatThrownBy(() -> spinSet(dir.resolve("s3-0.limits")))
                .as("reopening a truncated file is refused").isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("fewer than the 128-byte header");
    }
}
