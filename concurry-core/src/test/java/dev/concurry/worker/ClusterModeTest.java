package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Backends;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.worker.ProcessWorkers.Calc;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The core's side of {@link Mode#CLUSTER} (SPEC W2, L20) against an in-JVM {@link WorkerCluster} whose
 * "members" are maps in this JVM: placement, actor state, a member leaving mid-call, and the limits seam.
 * The Hazelcast module runs the same behaviour on real members.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClusterModeTest {
    @TempDir
    Path dir;

    /** A cluster of named nodes living in this JVM; {@link #leave} makes one vanish mid-call, like a crash. */
    static class InJvmCluster extends WorkerCluster {
        final Map<String, Map<String, Hosted>> hosted = new ConcurrentHashMap<>();
        final Map<String, CompletableFuture<String>> departures = new ConcurrentHashMap<>();
        final List<Node> nodes = new ArrayList<>();

        InJvmCluster(String... names) {
            for (String name : names) {
                nodes.add(new Node(name, "in-jvm:" + name));
                hosted.put(name, new ConcurrentHashMap<>());
                departures.put(name, new CompletableFuture<>());
            }
        }

        /** The node vanishes: the pool hears of it, and whatever its workers were doing is never answered. */
        void leave(String name) {
            departures.get(name).complete("left the in-JVM cluster");
            hosted.get(name).values().forEach(Hosted::close);
            hosted.get(name).clear();
        }

        int count(String node, String poolName) {
            return (int) hosted.get(node).keySet().stream().filter(id -> id.startsWith(poolName + "-")).count();
        }

        private boolean alive(Node node) {
            return !departures.get(node.id()).isDone();
        }

        @Override
        public String name() {
            return "in-JVM cluster";
        }

        @Override
        protected List<Node> members() {
            return nodes.stream().filter(this::alive).toList();
        }

        @Override
        protected CompletableFuture<Reply> start(Node member, String workerId, byte[] init) {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    hosted.get(member.id()).put(workerId, host(init));
                    return Reply.started();
                } catch (Throwable t) {
                    return failure(t);
                }
            });
        }

        @Override
        protected CompletableFuture<Reply> call(Node member, String workerId, long callId, byte[] payload) {
            Hosted worker = hosted.get(member.id()).get(workerId);
            if (worker == null) {
                return CompletableFuture.failedFuture(new IllegalStateException("no worker " + workerId));
            }
            CompletableFuture<Reply> answer = new CompletableFuture<>();
            worker.call(callId, payload).thenAccept(reply -> {
                if (alive(member)) {
                    answer.complete(reply); // a node that left never answers
                }
            });
            return answer;
        }

        @Override
        protected void cancel(Node member, String workerId, long callId) {
            Hosted worker = hosted.get(member.id()).get(workerId);
            if (worker != null) {
                worker.cancel(callId);
            }
        }

        @Override
        protected CompletableFuture<Void> stop(Node member, String workerId) {
            Hosted worker = hosted.get(member.id()).remove(workerId);
            if (worker != null) {
                worker.close();
            }
            return CompletableFuture.completedFuture(null);
        }

        @Override
        protected CompletableFuture<String> departure(Node member) {
            return departures.get(member.id());
        }
    }

    /** The in-JVM cluster with the limits seam connected to shared memory (every "member" is on this host). */
    static final class SharingCluster extends InJvmCluster {
        private final Path file;

        SharingCluster(Path file, String... names) {
            super(names);
            this.file = file;
        }

        @Override
        protected LimitBackend memberBackend(LimitSet set) {
            return set.backend();
        }

        @Override
        protected LimitSet poolLimits(String poolName, List<Limit> specs) {
            return LimitSet.builder().name(poolName).addAll(specs).backend(Backends.sharedMemory(file)).build();
        }
    }

    /** Holds the first call on its way to the member until that call's cancel has arrived there first. */
    static final class OvertakingCluster extends InJvmCluster {
        private final Map<Long, Runnable> held = new ConcurrentHashMap<>();
        private final AtomicBoolean first = new AtomicBoolean(true);
        /** Completes with the held call's id once the pool has sent it. */
        final CompletableFuture<Long> holding = new CompletableFuture<>();

        OvertakingCluster(String... names) {
            super(names);
        }

        @Override
        protected CompletableFuture<Reply> call(Node member, String workerId, long callId, byte[] payload) {
            if (!first.getAndSet(false)) {
                return super.call(member, workerId, callId, payload);
            }
            CompletableFuture<Reply> answer = new CompletableFuture<>();
            held.put(callId, () -> super.call(member, workerId, callId, payload).whenComplete((reply, failure) -> {
                if (failure != null) {
                    answer.completeExceptionally(failure);
                } else {
                    answer.complete(reply);
                }
            }));
            holding.complete(callId);
            return answer;
        }

        @Override
        protected void cancel(Node member, String workerId, long callId) {
            super.cancel(member, workerId, callId);
            Runnable late = held.remove(callId);
            if (late != null) {
                late.run();                              // the call reaches the member after its cancel
            }
        }
    }

    private static WorkerOptions<Calc> options(WorkerCluster cluster) {
        return Worker.options(Calc.class).mode(Mode.CLUSTER).cluster(cluster).closeTimeout(Duration.ofSeconds(10));
    }

    @Test
    @DisplayName("W6 a cancel that overtakes its call on the way to the member: the call never runs and its slot frees")
    void w6_aCancelThatOvertakesItsCallMeansTheCallNeverRuns() throws Exception {
        OvertakingCluster cluster = new OvertakingCluster("a");
        try (WorkerPool<Calc> pool = options(cluster).maxQueuedTasks(1).blockWhenFull(false).init(Calc::new)) {
            CompletableFuture<Integer> first = pool.submit(w -> w.add(5));
            cluster.holding.get(10, TimeUnit.SECONDS);          // sent, and held on its way
            first.cancel(true);
            assertThatThrownBy(first::join).isInstanceOf(CancellationException.class);
            CompletableFuture<Integer> next = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (next == null) {
                try {
                    next = pool.submit(w -> w.add(1));   // the slot frees once the member answered the cancelled call
                } catch (java.util.concurrent.RejectedExecutionException stillFull) {
                    assertThat(System.nanoTime()).as("the cancelled call's slot was never freed").isLessThan(deadline);
                    Thread.sleep(5);
                }
            }
            assertThat(next.get(10, TimeUnit.SECONDS)).as("the cancelled add(5) never ran").isEqualTo(1);
        }
    }

    @Test
    void w2_workersAreSpreadEvenlyKeepTheirStateAndLeaveNothingBehind() {
        InJvmCluster cluster = new InJvmCluster("a", "b", "c");
        WorkerPool<Calc> pool = options(cluster).maxWorkers(5).name("spread").init(Calc::new);
        assertThat(List.of(cluster.count("a", "spread"), cluster.count("b", "spread"), cluster.count("c", "spread")))
                .containsExactly(2, 2, 1);
        List<CompletableFuture<Integer>> sums = IntStream.rangeClosed(1, 20).mapToObj(i -> pool.submit(w -> w.add(1)))
                .toList();
        // Round robin over 5 workers: each saw 4 calls, in order: 1, 2, 3, 4.
        assertThat(Futures.gather(sums)).containsExactlyElementsOf(
                IntStream.range(0, 20).map(i -> i / 5 + 1).boxed().toList());
        pool.close();
        assertThat(cluster.hosted.values()).allSatisfy(workers -> assertThat(workers).isEmpty());
    }

    @Test
    void w2_aMemberThatLeavesFailsItsCallsWithWorkerDiedAndTheWorkerComesBackElsewhere() throws Exception {
        InJvmCluster cluster = new InJvmCluster("a", "b");
        try (WorkerPool<Calc> pool = options(cluster).name("leave").init(Calc::new)) {
            assertThat((Integer) pool.call(w -> w.add(5))).isEqualTo(5);
            assertThat(cluster.count("a", "leave")).isEqualTo(1);
            String d = dir.toString();
            CompletableFuture<String> running = pool.submit(w -> w.sleep(d, Duration.ofSeconds(30)));
            CompletableFuture<Integer> queued = pool.submit(w -> w.add(1));
            while (!java.nio.file.Files.exists(dir.resolve("started"))) {
                Thread.sleep(5);
            }
            cluster.leave("a");
            assertThatThrownBy(() -> running.get(10, TimeUnit.SECONDS)).cause().isInstanceOf(WorkerDiedException.class)
                    .hasMessageContaining("in-jvm:a").hasMessageContaining("left the in-JVM cluster")
                    .hasMessageContaining("while running call");
            assertThatThrownBy(() -> queued.get(10, TimeUnit.SECONDS)).cause().isInstanceOf(WorkerDiedException.class)
                    .hasMessageContaining("before running this call");
            assertThat((Integer) pool.call(w -> w.add(1))).as("a fresh worker, on the node left").isEqualTo(1);
            assertThat(cluster.count("b", "leave")).isEqualTo(1);
        }
    }

    @Test
    void l20_theClusterDecidesHowMembersShareLimits() throws Exception {
        InJvmCluster refusing = new InJvmCluster("a");
        try (LimitSet inMemory = LimitSet.builder().name("local").add(ResourceLimit.of("db_conn", 2)).build()) {
            assertThatThrownBy(() -> options(refusing).limits(inMemory).init(Calc::new))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'local'")
                    .hasMessageContaining("in-memory").hasMessageContaining("Mode.CLUSTER");
        }
        assertThatThrownBy(() -> options(refusing).limits(ResourceLimit.of("db_conn", 2)).init(Calc::new))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("plain limit specs");

        // With the seam connected, plain specs become one set that every member re-opens: one quota.
        SharingCluster sharing = new SharingCluster(dir.resolve("limits"), "a", "b");
        try (WorkerPool<Calc> pool = options(sharing).maxWorkers(2).limits(ResourceLimit.of("db_conn", 1))
                .init(Calc::new)) {
            assertThat((String) pool.call(Calc::limiterKind)).isEqualTo("shared-memory");
            assertThat((String) pool.call(Calc::limiterKind)).isEqualTo("shared-memory");
            String log = dir.resolve("log").toString();
            List<CompletableFuture<String>> holds = IntStream.range(0, 4)
                    .mapToObj(i -> pool.submit(w -> w.hold(log, 30)))
                    .toList();
            assertThat(Futures.gather(holds)).containsOnly("held");
            assertThat(ProcessWorkerTest.maxConcurrent(Path.of(log))).as("one db_conn across both members")
                    .isEqualTo(1);
        }
    }
}
