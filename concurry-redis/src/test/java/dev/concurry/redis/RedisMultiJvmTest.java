package dev.concurry.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** SPEC L18 with real separate JVMs sharing one Redis: no over-admission, crashed holders' permits return. */
class RedisMultiJvmTest {
    @RegisterExtension
    static final LocalRedis redis = new LocalRedis();

    @Test
    void L18_three_jvms_hammering_one_set_never_over_admit(@TempDir Path dir) throws Exception {
        double capacity = 40;
        long windowMs = 200;
        long runMs = 3_000;
        List<Process> children = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Path log = dir.resolve("grants-" + i + ".txt");
            logs.add(log);
            children.add(ChildJvm.start(dir.resolve("child-" + i + ".out"), "hammer", redis.server().uri(), "hammered",
                    Double.toString(capacity), Long.toString(windowMs), Long.toString(runMs), "3", log.toString()));
        }
        for (int i = 0; i < children.size(); i++) {
            Process child = children.get(i);
            assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("child %d finished", i).isTrue();
            assertThat(child.exitValue()).as("child %d: %s", i, Files.readString(dir.resolve("child-" + i + ".out")))
                    .isZero();
        }
        // The independent check: each grant certainly happened between the two readings its JVM logged
        // around acquire (System.nanoTime is one clock for every JVM of this host). The grants certainly
        // made inside any window never exceed capacity; the window is shortened by 0.1% for the drift
        // between this host's monotonic clock and the Redis server's clock, which the script uses.
        List<long[]> grants = new ArrayList<>();
        int[] perJvm = new int[3];
        for (int i = 0; i < 3; i++) {
            for (String line : Files.readAllLines(logs.get(i))) {
                String[] parts = line.split(" ");
                grants.add(new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])});
                perJvm[i]++;
            }
        }
        grants.sort(java.util.Comparator.comparingLong(g -> g[0]));
        long window = (long) (windowMs * 1e6 * 0.999);
        int worst = 0;
        for (int first = 0; first < grants.size(); first++) {
            long start = grants.get(first)[0];
            int inside = 0;
            for (int j = first; j < grants.size() && grants.get(j)[0] < start + window; j++) {
                if (grants.get(j)[1] < start + window) {
                    inside++;
                }
            }
            worst = Math.max(worst, inside);
        }
        System.out.printf("multi-JVM: %d grants (%s per JVM), at most %d certainly in one %d ms window%n",
                grants.size(), java.util.Arrays.toString(perJvm), worst, windowMs);
        assertThat(worst).as("most grants certainly in one %d ms window, over %d grants", windowMs, grants.size())
                .isLessThanOrEqualTo((int) capacity);
        assertThat(java.util.Arrays.stream(perJvm).min().orElse(0))
                .as("every JVM got grants: %s", java.util.Arrays.toString(perJvm)).isPositive();
        // The JVMs started at different moments; over the common part the limit was well used.
        double span = grants.get(grants.size() - 1)[1] - grants.get(0)[0];
        assertThat(grants.size()).as("utilisation over %.0f ms", span / 1e6)
                .isGreaterThan((int) (0.5 * capacity * span / (windowMs * 1e6)));
    }

    @Test
    void L18_a_killed_holders_permit_returns_when_its_lease_expires(@TempDir Path dir) throws Exception {
        long leaseMs = 1_000;
        Path out = dir.resolve("holder.out");
        Process holder = ChildJvm.start(out, "hold", redis.server().uri(), "killed-holder", Long.toString(leaseMs));
        try (RedisBackend backend = RedisBackend.builder(redis.client()).leaseDuration(Duration.ofMillis(leaseMs))
                .build()) {
            LimitSet set = LimitSet.builder().name("killed-holder").add(ResourceLimit.of("conn", 1)).backend(backend)
                    .build();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.readString(out).contains("HELD")) {
                assertThat(holder.isAlive()).as("holder: %s", Files.readString(out)).isTrue();
                assertThat(System.nanoTime() - deadline).as("holder took the permit").isNegative();
                Thread.sleep(20);
            }
            // Renewed while the holder lives: still held after three lease durations.
            Thread.sleep(3 * leaseMs);
            assertThat(set.tryAcquire(Request.of("conn", 1))).as("the live holder keeps its permit").isEmpty();
            var waiting = set.acquireAsync(Request.of("conn", 1));
            holder.destroyForcibly();   // SIGKILL: no release, no more renewals
            long killed = System.nanoTime();
            holder.waitFor(10, TimeUnit.SECONDS);
            Acquisition got = waiting.get(10, TimeUnit.SECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            assertThat(ms).as("the permit came back at the lease's expiry (renewed every third of it)")
                    .isLessThan(leaseMs + 1_500);
            got.close();
        } finally {
            holder.destroyForcibly();
        }
    }
}
