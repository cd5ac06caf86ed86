package dev.concurry.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.ManualClock;
import io.lettuce.core.RedisClient;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC L12 and N4c on Redis (issue 20): waiters are served first-come first-served per key across every
 * JVM sharing a set, not only within one. Each JVM is a {@link RedisBackend} of its own here, or a real
 * child JVM.
 */
class RedisFairnessTest {
    private static final Request ONE_CONN = Request.of("conn", 1);
    @RegisterExtension
    static final LocalRedis redis = new LocalRedis();

    private static LimitSet mutex(RedisBackend backend, String name) {
        return LimitSet.builder().name(name).add(ResourceLimit.of("conn", 1)).backend(backend).build();
    }

    @Test
    @DisplayName("L12 a permit freed in one JVM goes to the waiter that queued first in another, not to a newcomer")
    void L12_a_newcomer_does_not_overtake_a_waiter_of_another_jvm() throws Exception {
        ManualClock clock = new ManualClock();
        try (FaultProxy slowNetwork = FaultProxy.to(redis.server().port)) {
            RedisClient slowClient = RedisClient.create(slowNetwork.uri());
            try (RedisBackend holderJvm = RedisBackend.builder(redis.client()).clock(clock).build();
                    RedisBackend waiterJvm = RedisBackend.builder(slowClient).clock(clock).build();
                    RedisBackend newcomerJvm = RedisBackend.builder(redis.client()).clock(clock).build()) {
                LimitSet holder = mutex(holderJvm, "fifo-across-jvms");
                LimitSet waiter = mutex(waiterJvm, "fifo-across-jvms");
                LimitSet newcomer = mutex(newcomerJvm, "fifo-across-jvms");
                Acquisition held = holder.tryAcquire(ONE_CONN).orElseThrow();
                CompletableFuture<Acquisition> first = waiter.acquireAsync(ONE_CONN);
                assertThat(waiter.stats().waiting()).isEqualTo(1);
                // The waiter's JVM hears of the release a second late (its replies and notifications are delayed):
                // whoever asks first gets nothing that the waiter, queued first, has not had.
                slowNetwork.delayReplies(Duration.ofSeconds(1));
                held.close();
                assertThat(newcomer.tryAcquire(ONE_CONN)).as("a try from a third JVM").isEmpty();
                CompletableFuture<Acquisition> second = newcomer.acquireAsync(ONE_CONN);
                Acquisition granted = first.get(10, TimeUnit.SECONDS);
                slowNetwork.delayReplies(Duration.ZERO);
                assertThat(second).as("the later waiter waits for the first one's release").isNotDone();
                granted.close();
                second.get(10, TimeUnit.SECONDS).close();
                assertThat(newcomer.tryAcquire(ONE_CONN)).as("nobody waits any more").isPresent().get()
                        .satisfies(Acquisition::close);
            } finally {
                slowClient.shutdown();
            }
        }
    }

    @Test
    @DisplayName("L12 the place of a waiter whose JVM died expires: it blocks others for its ticket's life only")
    void L12_a_dead_jvms_waiter_stops_blocking_when_its_ticket_expires() {
        ManualClock clock = new ManualClock();
        RedisClient doomed = RedisClient.create(redis.server().uri());
        try (RedisBackend holderJvm = RedisBackend.builder(redis.client()).clock(clock).build();
                RedisBackend deadJvm = RedisBackend.builder(doomed).clock(new ManualClock()).build();
                RedisBackend otherJvm = RedisBackend.builder(redis.client()).clock(clock).build()) {
            LimitSet holder = mutex(holderJvm, "dead-waiter");
            LimitSet dead = mutex(deadJvm, "dead-waiter");
            LimitSet other = mutex(otherJvm, "dead-waiter");
            Acquisition held = holder.tryAcquire(ONE_CONN).orElseThrow();
            CompletableFuture<Acquisition> orphan = dead.acquireAsync(ONE_CONN);
            assertThat(dead.stats().waiting()).isEqualTo(1);
            doomed.shutdown(Duration.ZERO, Duration.ZERO);   // the JVM is gone: it never leaves the queue
            held.close();
            assertThat(other.tryAcquire(ONE_CONN)).as("the dead JVM's waiter still comes first").isEmpty();
            clock.advance(Duration.ofMillis(2_999));
            assertThat(other.tryAcquire(ONE_CONN)).as("its place lasts 3 s after its last call").isEmpty();
            clock.advance(Duration.ofMillis(1));
            assertThat(other.tryAcquire(ONE_CONN)).as("expired").isPresent().get().satisfies(Acquisition::close);
            orphan.cancel(true);
        }
    }

    /** One grant as a child JVM logged it: before acquire, after it returned, before close (System.nanoTime). */
    private record Grant(int jvm, long queued, long granted, long released) {
    }

    @Test
    @DisplayName("N4c L12 three JVMs with equal demand on one mutex: Jain's index >= 0.98 and nobody overtakes a waiter"
            + " that queued 5 ms earlier")
    void N4c_three_jvms_share_a_redis_set_fairly(@TempDir Path dir) throws Exception {
        int jvms = 3;
        int threads = 6;
        long leaseMs = 2_000;
        long runNanos = TimeUnit.SECONDS.toNanos(10);
        // A server started less than a lease ago withholds new permits until a lease has passed (R3):
        // wait that out here, so that the children start together.
        try (RedisBackend backend = RedisBackend.builder(redis.client()).leaseDuration(Duration.ofMillis(leaseMs))
                .build()) {
            mutex(backend, "fair-jvms").acquire(ONE_CONN, Duration.ofSeconds(30)).close();
        }
        List<Process> children = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        List<Path> outputs = new ArrayList<>();
        try {
            for (int i = 0; i < jvms; i++) {
                logs.add(dir.resolve("grants-" + i + ".txt"));
                outputs.add(dir.resolve("child-" + i + ".out"));
                children.add(ChildJvm.start(outputs.get(i), "fair", redis.server().uri(), "fair-jvms",
                        Long.toString(leaseMs),
                        Integer.toString(threads), "1000", logs.get(i).toString()));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            for (int i = 0; i < jvms; i++) {
                while (!Files.readString(outputs.get(i)).contains("READY")) {
                    assertThat(children.get(i).isAlive()).as("child %d: %s", i, Files.readString(outputs.get(i)))
                            .isTrue();
                    assertThat(System.nanoTime() - deadline).as("child %d ready within 60 s", i).isNegative();
                    Thread.sleep(20);
                }
            }
            long end = System.nanoTime() + runNanos;
            for (Process child : children) {
                OutputStream in = child.getOutputStream();
                in.write(("GO " + end + "\n").getBytes(StandardCharsets.US_ASCII));
                in.flush();
            }
            for (int i = 0; i < jvms; i++) {
                assertThat(children.get(i).waitFor(60, TimeUnit.SECONDS)).as("child %d finished", i).isTrue();
                assertThat(children.get(i).exitValue()).as("child %d: %s", i, Files.readString(outputs.get(i)))
                        .isZero();
            }
        } finally {
            children.forEach(Process::destroyForcibly);
        }

        List<Grant> grants = new ArrayList<>();
        long[] perJvm = new long[jvms];
        for (int i = 0; i < jvms; i++) {
            for (String line : Files.readAllLines(logs.get(i))) {
                String[] parts = line.split(" ");
                grants.add(new Grant(i, Long.parseLong(parts[0]), Long.parseLong(parts[1]), Long.parseLong(parts[2])));
                perJvm[i]++;
            }
        }
        // The independent check. The logged holding intervals lie inside the real ones, which never overlap
        // (one permit), so ordering them by their grant reading gives the order the server granted them in.
        grants.sort(Comparator.comparingLong(Grant::granted));
        for (int k = 1; k < grants.size(); k++) {
            assertThat(grants.get(k - 1).released()).as("one holder at a time (grant %d)", k)
                    .isLessThan(grants.get(k).granted());
        }
        // First-come first-served across JVMs: no waiter is granted before one that queued 5 ms earlier.
        // Except at the start: the permit is free at GO, and the first attempt to reach Redis takes it,
        // even if a waiter that queued a little earlier in another JVM is still on its way (nothing can
        // know of it yet); from then on the other 17 threads always wait. So grants in the first 100 ms
        // are not checked as overtaking (they are checked as overtaken).
        long slack = TimeUnit.MILLISECONDS.toNanos(5);
        long origin = grants.stream().mapToLong(Grant::queued).min().orElse(0);
        long startUp = origin + TimeUnit.MILLISECONDS.toNanos(100);
        int overtaken = 0;
        long worst = 0;
        List<String> examples = new ArrayList<>();
        Grant latestQueuedBefore = null;     // of the grants so far (after the start), the one queued last
        for (Grant g : grants) {
            if (latestQueuedBefore != null && latestQueuedBefore.queued() - g.queued() >= slack) {
                overtaken++;
                worst = Math.max(worst, latestQueuedBefore.queued() - g.queued());
                if (examples.size() < 5) {
                    examples.add(String.format(
                            "JVM %d queued at %.1f ms, granted at %.1f ms, after JVM %d queued at %.1f"
                                    + " ms, granted at %.1f ms",
                            g.jvm(), (g.queued() - origin) / 1e6,
                            (g.granted() - origin) / 1e6, latestQueuedBefore.jvm(),
                            (latestQueuedBefore.queued() - origin) / 1e6,
                            (latestQueuedBefore.granted() - origin) / 1e6));
                }
            }
            if (g.granted() > startUp && (latestQueuedBefore == null || g.queued() > latestQueuedBefore.queued())) {
                latestQueuedBefore = g;
            }
        }
        double sum = Arrays.stream(perJvm).sum();
        double squares = Arrays.stream(perJvm).mapToDouble(x -> (double) x * x).sum();
        double jain = sum * sum / (jvms * squares);
        System.out.printf("fairness across %d JVMs x %d threads: %d grants (%s per JVM, %.0f/s), Jain's index %.4f,"
                + " %d grants overtook a waiter queued >= 5 ms earlier (worst by %.1f ms)%n", jvms, threads,
                grants.size(), Arrays.toString(perJvm), grants.size() / (runNanos / 1e9), jain, overtaken, worst / 1e6);
        assertThat(grants.size()).as("grants in %d s", runNanos / 1_000_000_000).isGreaterThan(100);
        assertThat(overtaken).as("grants that overtook a waiter queued >= 5 ms earlier (worst by %.1f ms): %s",
                worst / 1e6, examples).isZero();
        assertThat(jain).as("Jain's index of the grants per JVM %s", Arrays.toString(perJvm))
                .isGreaterThanOrEqualTo(0.98);
    }
}
