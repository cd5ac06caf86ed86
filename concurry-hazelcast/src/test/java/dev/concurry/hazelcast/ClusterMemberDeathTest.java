package dev.concurry.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.hazelcast.ClusterWorkers.Counter;
import dev.concurry.hazelcast.LoopbackCluster.MemberProcess;
import dev.concurry.retry.RetryPolicy;
import dev.concurry.worker.Mode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerDiedException;
import dev.concurry.worker.WorkerOptions;
import dev.concurry.worker.WorkerPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cluster workers on three member JVMs (separate processes), owned by this JVM as a client: a member
 * killed with {@code kill -9} fails its workers' calls with {@link WorkerDiedException} at once, the
 * worker comes back on another member with a fresh state, a call is never re-run behind the caller's
 * back, and {@code retryOn(WorkerDiedException.class)} retries explicitly (SPEC W2, R1). Each test kills
 * one member: the first runs on three members (one worker each), the second on the two left.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterMemberDeathTest {
    private static final Duration LONG = Duration.ofSeconds(60);
    /** Generous on two busy cores: a kill -9 is usually seen within a second (TCP reset), at worst after 5 s of silence. */
    private static final Duration PROMPTLY = Duration.ofSeconds(20);
    private static LoopbackCluster cluster;
    private static HazelcastCluster hz;

    @TempDir
    Path dir;

    @BeforeAll
    static void startCluster() {
        cluster = LoopbackCluster.builder().embeddedMembers(0).memberProcesses(3).start();
        System.out.println("3 member JVMs formed a cluster in " + cluster.formationTime().toMillis() + " ms");
        hz = HazelcastCluster.of(cluster.newClient());
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
            assertThat(cluster.memberProcesses()).as("no member JVM outlives the cluster")
                    .noneMatch(MemberProcess::isAlive);
        }
    }

    private static WorkerOptions<Counter> options(String name) {
        return Worker.options(Counter.class).mode(Mode.CLUSTER).cluster(hz).name(name)
                .closeTimeout(Duration.ofSeconds(20));
    }

    private static MemberProcess memberWithPid(long pid) {
        return cluster.memberProcesses().stream().filter(m -> m.pid() == pid).findFirst().orElseThrow();
    }

    private List<String> marks(Path file, String key) throws IOException {
        return Files.exists(file)
                ? Files.readAllLines(file).stream().filter(l -> l.startsWith(key + " ")).toList()
                : List.of();
    }

    private void awaitMarks(Path file, String key, int count) throws Exception {
        long deadline = System.nanoTime() + LONG.toNanos();
        while (marks(file, key).size() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("call " + key + " never started " + count + " time(s)");
            }
            Thread.sleep(10);
        }
    }

    @Test
    @Order(1)
    void w2_aKilledMemberFailsItsWorkersCallsAtOnceAndTheWorkerIsRecreatedElsewhere() throws Exception {
        Path file = dir.resolve("marks");
        String marks = file.toString(); // captured by calls: a String crosses to the members, a Path would not
        try (WorkerPool<Counter> pool = options("death").maxWorkers(3).init(() -> new Counter("death"))) {
            // Round robin from one thread: submission i goes to worker i % 3.
            List<Long> pids = IntStream.range(0, 3).mapToObj(i -> (Long) pool.call(Counter::pid)).toList();
            assertThat(pids).as("one worker on each member JVM")
                    .containsExactlyInAnyOrderElementsOf(
                            cluster.memberProcesses().stream().map(MemberProcess::pid).toList());
            IntStream.range(0, 3).forEach(i -> pool.call(w -> w.add(10)));
            long victim = pids.get(0);

            CompletableFuture<Long> running = pool.submit(w -> w.markThenSleep(marks, "victim", LONG));
            CompletableFuture<Long> other1 = pool.submit(w -> w.add(1));
            CompletableFuture<Long> other2 = pool.submit(w -> w.add(1));
            CompletableFuture<Long> queued = pool.submit(w -> w.add(1)); // behind the running call, on the victim
            awaitMarks(file, "victim", 1);
            assertThat(other1.get(30, TimeUnit.SECONDS)).isEqualTo(11L);
            assertThat(other2.get(30, TimeUnit.SECONDS)).isEqualTo(11L);

            long killedAt = System.nanoTime();
            memberWithPid(victim).kill();
            assertThatThrownBy(() -> running.get(PROMPTLY.toSeconds(), TimeUnit.SECONDS)).cause()
                    .isInstanceOf(WorkerDiedException.class).hasMessageContaining("while running call");
            assertThatThrownBy(() -> queued.get(PROMPTLY.toSeconds(), TimeUnit.SECONDS)).cause()
                    .isInstanceOf(WorkerDiedException.class).hasMessageContaining("before running this call");
            Duration noticed = Duration.ofNanos(System.nanoTime() - killedAt);
            System.out.println(
                    "kill -9 of member pid " + victim + " failed its calls after " + noticed.toMillis() + " ms");
            assertThat(noticed).isLessThan(PROMPTLY);

            // The next calls: the lost worker is re-created on a surviving member, with a fresh state.
            List<Long> after = IntStream.range(0, 3).mapToObj(i -> (Long) pool.call(Counter::pid)).toList();
            assertThat(after).doesNotContain(victim);
            Set<Long> totals = new HashSet<>();
            IntStream.range(0, 3).forEach(i -> totals.add(pool.call(w -> w.add(0))));
            assertThat(totals).containsExactlyInAnyOrder(0L, 11L);
            assertThat(hz.hostedWorkers(Duration.ofSeconds(10)).values().stream()
                    .mapToLong(ids -> ids.stream().filter(id -> id.startsWith("death-")).count()).sum())
                    .as("three workers of the pool, on the members left").isEqualTo(3);
            assertThat(marks(file, "victim")).as("the lost call was not re-run anywhere").hasSize(1);
        }
    }

    @Test
    @Order(2)
    void r1_w2_retryOnWorkerDiedExceptionRetriesACallLostWithItsMember() throws Exception {
        Path file = dir.resolve("marks");
        String marks = file.toString();
        RetryPolicy<Object> retry = RetryPolicy.builder().maxAttempts(3).retryOn(WorkerDiedException.class).build();
        try (WorkerPool<Counter> pool = options("retry").maxWorkers(2).retry(retry).init(() -> new Counter("retry"))) {
            long first = pool.call(Counter::pid);
            long second = pool.call(Counter::pid);
            assertThat(first).as("two workers on two members").isNotEqualTo(second);

            CompletableFuture<Long> call = pool.submit(w -> w.markThenSleep(marks, "retried", Duration.ofSeconds(2)));
            awaitMarks(file, "retried", 1);
            long victim = Long.parseLong(marks(file, "retried").get(0).split(" ")[1]);
            memberWithPid(victim).kill();

            long pid = call.get(LONG.toSeconds(), TimeUnit.SECONDS);
            assertThat(pid).as("the retry ran on a surviving member").isNotEqualTo(victim);
            assertThat(marks(file, "retried")).as("two attempts: the lost one, then the retry").hasSize(2);
        }
    }
}
