package dev.concurry.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.core.HazelcastInstance;
import dev.concurry.hazelcast.ClusterWorkers.Counter;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.worker.Futures;
import dev.concurry.worker.LoadBalancing;
import dev.concurry.worker.Mode;
import dev.concurry.worker.TaskExecutor;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerFactory;
import dev.concurry.worker.WorkerOptions;
import dev.concurry.worker.WorkerPool;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Cluster workers (SPEC W2, Mode.CLUSTER) on three Hazelcast members embedded in this JVM: placement,
 * actor state, order, exceptions, cancel, back-pressure, close, limits, TaskExecutor, and a client as the
 * pool's owner. One cluster for the whole class.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ClusterWorkerTest {
    private static final Duration LONG = Duration.ofSeconds(60);
    private static final Duration ASK = Duration.ofSeconds(10);
    private static LoopbackCluster cluster;
    private static HazelcastCluster hz;

    @BeforeAll
    static void startCluster() {
        cluster = LoopbackCluster.builder().embeddedMembers(3).start();
        hz = HazelcastCluster.of(cluster.embeddedMember(0));
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static WorkerOptions<Counter> options() {
        return Worker.options(Counter.class).mode(Mode.CLUSTER).cluster(hz).closeTimeout(Duration.ofSeconds(20));
    }

    /** The workers of {@code pool} on each member, by member address (every member listed). */
    private static Map<String, List<String>> placement(WorkerPool<?> pool) {
        Map<String, List<String>> all = hz.hostedWorkers(ASK);
        Map<String, List<String>> mine = new java.util.LinkedHashMap<>();
        all.forEach((member, ids) -> mine.put(member,
                ids.stream().filter(id -> id.startsWith(pool.name() + "-")).toList()));
        return mine;
    }

    private static int hostedCount(WorkerPool<?> pool) {
        return placement(pool).values().stream().mapToInt(Collection::size).sum();
    }

    @Test
    void w2_w4_workersAreSpreadEvenlyOverTheMembers() {
        try (WorkerPool<Counter> six = options().maxWorkers(6).init(() -> new Counter("six"));
                WorkerPool<Counter> four = options().maxWorkers(4).init(() -> new Counter("four"))) {
            assertThat(placement(six)).hasSize(3).allSatisfy((member, ids) -> assertThat(ids).hasSize(2));
            assertThat(placement(four).values().stream().map(List::size).sorted().toList()).isEqualTo(List.of(1, 1, 2));
            // Calls reach every worker through the pool's balancer, on the members' worker threads.
            List<String> threads = IntStream.range(0, 6).mapToObj(i -> (String) six.call(Counter::thread)).toList();
            assertThat(threads).allMatch(t -> t.startsWith("concurry-cluster-worker-")).doesNotHaveDuplicates();
            assertThat(six.stats().workers()).hasSize(6).allSatisfy(w -> assertThat(w.completed()).isEqualTo(1));
        }
    }

    @Test
    void w2_theWorkersOfAMemberRunTheirCallsInParallelBeyondHazelcastsDefaultExecutorSize() {
        // 17 workers per member, one more than the 16 threads of a Hazelcast executor by default: every
        // call waits until all 51 are running at once, so this passes only if they truly run in parallel.
        int workers = 51;
        String key = "parallel-" + System.nanoTime();
        try (WorkerPool<Counter> pool = options().maxWorkers(workers).init(() -> new Counter("parallel"))) {
            List<CompletableFuture<Boolean>> met = IntStream.range(0, workers)
                    .mapToObj(i -> pool.submit(w -> w.meet(key, workers, Duration.ofSeconds(30)))).toList();
            assertThat(Futures.gather(met)).hasSize(workers).containsOnly(true);
        }
    }

    @Test
    void w2_aClusterWorkerIsAnActorWhoseStateLastsBetweenCalls() {
        try (WorkerPool<Counter> pool = options().init(() -> new Counter("actor"))) {
            assertThat((String) pool.call(Counter::name)).isEqualTo("actor");
            for (int i = 1; i <= 5; i++) {
                assertThat((Long) pool.call(w -> w.add(10))).isEqualTo(10L * i);
            }
            assertThat((String) pool.call(Counter::limiterKind)).as("no limits configured: the empty set")
                    .isEqualTo("empty");
        }
    }

    @Test
    void w2_callsOnOneClusterWorkerRunOneAtATimeInSubmissionOrder() {
        try (WorkerPool<Counter> pool = options().maxWorkers(2).init(() -> new Counter("order"))) {
            // Round robin: even submissions go to worker 0, odd ones to worker 1; each sees its own prefix sums.
            List<CompletableFuture<Long>> sums = IntStream.rangeClosed(1, 40)
                    .mapToObj(i -> pool.submit(w -> w.add(i))).toList();
            List<Long> results = Futures.gather(sums);
            long even = 0;
            long odd = 0;
            for (int i = 1; i <= 40; i++) {
                long expected = i % 2 == 1 ? (even += i) : (odd += i);
                assertThat(results.get(i - 1)).as("call %d", i).isEqualTo(expected);
            }
        }
    }

    @Test
    void w2_stress_manySubmittersNeverRunTwoCallsOfOneWorkerAtOnceAndEveryCallRunsOnce() throws Exception {
        int threads = 8;
        int perThread = 60;
        try (WorkerPool<Counter> pool = options().maxWorkers(6).loadBalancing(LoadBalancing.LEAST_ACTIVE)
                .init(() -> new Counter("stress"))) {
            java.util.concurrent.ExecutorService submitters = java.util.concurrent.Executors
                    .newFixedThreadPool(threads);
            List<java.util.concurrent.Future<List<String>>> batches = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                batches.add(submitters.submit(() -> {
                    List<CompletableFuture<String>> mine = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        mine.add(pool.submit(w -> w.exclusive(w.thread())));
                    }
                    return Futures.gather(mine);
                }));
            }
            List<String> results = new ArrayList<>();
            for (java.util.concurrent.Future<List<String>> batch : batches) {
                results.addAll(batch.get(60, TimeUnit.SECONDS));
            }
            submitters.shutdown();
            assertThat(results).hasSize(threads * perThread).doesNotContain("OVERLAP");
            // Independent check, by the worker's own thread name (one per worker): its call counts are
            // exactly 1..n, each once, so no call was lost or run twice.
            Map<String, List<Long>> byWorker = new java.util.HashMap<>();
            for (String r : results) {
                String[] parts = r.split(":");
                byWorker.computeIfAbsent(parts[0], k -> new ArrayList<>()).add(Long.parseLong(parts[1]));
            }
            assertThat(byWorker).hasSize(6);
            byWorker.forEach((worker, counts) -> assertThat(counts.stream().sorted().toList()).as(worker)
                    .isEqualTo(java.util.stream.LongStream.rangeClosed(1, counts.size()).boxed().toList()));
            assertThat(pool.stats().completed()).isEqualTo(threads * perThread);
        }
    }

    @Test
    void w6_exceptionsReachTheCallerWithTheirOriginalTypeAndTheWorkerLivesOn() {
        try (WorkerPool<Counter> pool = options().init(() -> new Counter("errors"))) {
            pool.call(w -> w.add(1));
            CompletableFuture<String> unchecked = pool.submit(w -> w.fail("bad input"));
            CompletableFuture<String> checked = pool.submit(w -> w.failChecked("disk"));
            assertThatThrownBy(unchecked::get).isInstanceOf(ExecutionException.class).cause()
                    .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("bad input");
            assertThatThrownBy(checked::get).cause().isExactlyInstanceOf(IOException.class).hasMessage("disk");
            assertThatThrownBy(() -> pool.call(w -> w.fail("direct")))
                    .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("direct");
            assertThat((Long) pool.call(w -> w.add(1))).as("same instance, state intact").isEqualTo(2L);
        }
    }

    @Test
    void w6_cancellingAQueuedCallRemovesItAndCancellingTheRunningOneInterruptsItOnTheMember() throws Exception {
        try (WorkerPool<Counter> pool = options().init(() -> new Counter("cancel"))) {
            String key = "cancel-" + System.nanoTime();
            CompletableFuture<String> running = pool.submit(w -> w.sleep(key, LONG));
            CompletableFuture<Long> queued = pool.submit(w -> w.add(100));
            assertThat(ClusterWorkers.started(key).await(30, TimeUnit.SECONDS)).as("the call started on its member")
                    .isTrue();

            assertThat(queued.cancel(true)).isTrue();
            assertThat(running.cancel(true)).isTrue();
            assertThatThrownBy(running::join).isInstanceOf(CancellationException.class);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!ClusterWorkers.INTERRUPTED.containsKey(key) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(ClusterWorkers.INTERRUPTED).as("the running call was interrupted on its member")
                    .containsKey(key);
            assertThat((Long) pool.call(w -> w.add(1))).as("the queued call never ran; the worker lives on")
                    .isEqualTo(1L);
        }
    }

    @Test
    void w5_aFullQueueBlocksOrFailsFastAsInTheOtherModes() throws Exception {
        try (WorkerPool<Counter> pool = options().maxQueuedTasks(1).blockWhenFull(false)
                .init(() -> new Counter("full"))) {
            String key = "full-" + System.nanoTime();
            CompletableFuture<String> running = pool.submit(w -> w.sleep(key, LONG));
            assertThatThrownBy(() -> pool.submit(w -> w.add(1))).isInstanceOf(RejectedExecutionException.class)
                    .hasMessageContaining("maxQueuedTasks");
            running.cancel(true);
            assertThatThrownBy(running::join).isInstanceOf(CancellationException.class);
            // The slot frees once the member confirms the interrupted call ended (a round trip after the cancel).
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            CompletableFuture<Long> next = null;
            while (next == null) {
                try {
                    next = pool.submit(w -> w.add(1));
                } catch (RejectedExecutionException stillFull) {
                    assertThat(System.nanoTime()).as("the slot was never freed").isLessThan(deadline);
                    Thread.sleep(5);
                }
            }
            assertThat(next.get(30, TimeUnit.SECONDS)).isEqualTo(1L);
        }
    }

    @Test
    void w7_closeFinishesQueuedCallsAndLeavesNoWorkerOnAnyMember() {
        WorkerPool<Counter> pool = options().maxWorkers(5).loadBalancing(LoadBalancing.LEAST_ACTIVE)
                .init(() -> new Counter("close"));
        assertThat(hostedCount(pool)).isEqualTo(5);
        List<CompletableFuture<Long>> results = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            results.add(pool.submit(w -> w.add(1)));
        }
        pool.close();
        assertThat(results).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
        assertThat(placement(pool)).as("no worker of the pool on any member").hasSize(3)
                .allSatisfy((member, ids) -> assertThat(ids).isEmpty());
        assertThatThrownBy(() -> pool.submit(w -> w.add(1))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void w8_aFailingFactoryFailsInitWithItsExceptionAndLeavesNothingBehind() {
        WorkerFactory<Counter> failing = () -> {
            throw new IllegalStateException("no model loaded");
        };
        assertThatThrownBy(() -> options().maxWorkers(3).name("failing-factory").init(failing))
                .isExactlyInstanceOf(IllegalStateException.class).hasMessage("no model loaded");
        assertThat(hz.hostedWorkers(ASK).values())
                .allSatisfy(ids -> assertThat(ids).noneMatch(id -> id.startsWith("failing-factory-")));
    }

    @Test
    void w8_aCallThatCannotBeSerializedIsRefusedBySubmit() {
        try (WorkerPool<Counter> pool = options().init(() -> new Counter("serial"))) {
            Object notSerializable = new Object();
            assertThatThrownBy(() -> pool.submit(w -> notSerializable.hashCode() + w.add(1)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Mode.CLUSTER")
                    .hasMessageContaining("serializable");
            assertThat((Long) pool.call(w -> w.add(1))).isEqualTo(1L);
        }
    }

    @Test
    void w2_optionsThatContradictClusterModeFailAtInit() {
        assertThatThrownBy(() -> Worker.options(Counter.class).mode(Mode.CLUSTER).init(() -> new Counter("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("HazelcastCluster.of");
        assertThatThrownBy(
                () -> Worker.options(Counter.class).mode(Mode.THREAD).cluster(hz).init(() -> new Counter("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only for Mode.CLUSTER");
        assertThatThrownBy(() -> options().onDemand(true).init(() -> new Counter("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("onDemand");
    }

    @Test
    void l20_anInMemorySetIsRefusedAtInitNamingTheBackendToUse() {
        try (LimitSet inMemory = LimitSet.builder().name("in-jvm").add(ResourceLimit.of("db_conn", 5)).build()) {
            assertThatThrownBy(() -> options().limits(inMemory).init(() -> new Counter("x")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'in-jvm'").hasMessageContaining("in-memory")
                    .hasMessageContaining("HazelcastBackend.of(hz)");
        }
        try (HazelcastBackend testClock = HazelcastBackend.builder(cluster.embeddedMember(0))
                .clock(new dev.concurry.time.ManualClock()).build();
                LimitSet manual = LimitSet.builder().name("manual-" + System.nanoTime())
                        .add(ResourceLimit.of("db_conn", 5))
                        .backend(testClock).build()) {
            assertThatThrownBy(() -> options().limits(manual).init(() -> new Counter("x")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("test clock");
        }
    }

    @Test
    void l20_l18b_plainSpecsBecomeOneHazelcastSetSharedByTheWorkersOnEveryMember() {
        String run = "shared-" + System.nanoTime();
        Map<String, Double> request = Map.of("db_conn", 1.0, "requests", 1.0);
        try (WorkerPool<Counter> pool = options().maxWorkers(6)
                .limits(ResourceLimit.of("db_conn", 2), RateLimit.of("requests", 20, Duration.ofSeconds(1)))
                .init(() -> new Counter("shared"))) {
            assertThat(placement(pool)).allSatisfy((member, ids) -> assertThat(ids).hasSize(2));
            assertThat((String) pool.call(Counter::limiterKind)).isEqualTo("hazelcast");
            Futures.gather(
                    IntStream.range(0, 60).mapToObj(i -> pool.submit(w -> w.holdShared(run, request, 3))).toList());
        }
        List<long[]> log = List.copyOf(ClusterWorkers.held(run));
        assertThat(log).hasSize(60);
        // The independent log: at most 2 connections held at any instant, over all six workers on three members.
        assertThat(maxHeldAtOnce(log)).isBetween(1, 2);
        // At most 20 requests in any second: 60 grants, each granted in the set between its ask and its log entry,
        // cannot fit in less than 2 s (any shorter span is covered by two 1-second windows: at most 40).
        long firstAsked = log.stream().mapToLong(e -> e[0]).min().orElseThrow();
        long lastGranted = log.stream().mapToLong(e -> e[1]).max().orElseThrow();
        assertThat(Duration.ofNanos(lastGranted - firstAsked)).isGreaterThanOrEqualTo(Duration.ofMillis(1999));
    }

    /** The most intervals [granted, released] of {@code log} that overlap at one instant. */
    private static int maxHeldAtOnce(List<long[]> log) {
        List<long[]> events = new ArrayList<>();
        for (long[] e : log) {
            events.add(new long[] {e[1], 1});
            events.add(new long[] {e[2], -1});
        }
        events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        int held = 0;
        int most = 0;
        for (long[] event : events) {
            held += (int) event[1];
            most = Math.max(most, held);
        }
        return most;
    }

    @Test
    void l20_aHazelcastSetGivenToAClusterPoolIsReopenedOnEveryMember() throws Exception {
        String key = "given-" + System.nanoTime();
        Request db = Request.of("db_conn", 1);
        try (HazelcastBackend backend = HazelcastBackend.of(cluster.embeddedMember(0));
                LimitSet given = LimitSet.builder().name(key).add(ResourceLimit.of("db_conn", 3)).backend(backend)
                        .build();
                WorkerPool<Counter> pool = options().maxWorkers(3).limits(given).init(() -> new Counter("given"))) {
            assertThat(placement(pool)).allSatisfy((member, ids) -> assertThat(ids).hasSize(1));
            List<CompletableFuture<Boolean>> holds = IntStream.range(0, 3)
                    .mapToObj(i -> pool.submit(w -> w.holdUntil(key + "-" + i, Map.of("db_conn", 1.0), key + "-release",
                            LONG)))
                    .toList();
            for (int i = 0; i < 3; i++) {
                assertThat(ClusterWorkers.started(key + "-" + i).await(LONG.toSeconds(), TimeUnit.SECONDS)).isTrue();
            }
            // The three workers, one per member, hold the three permits of the set this JVM also holds.
            assertThat(given.stats().key("db_conn").inUse()).isEqualTo(3);
            assertThat(given.tryAcquire(db)).isEmpty();
            ClusterWorkers.started(key + "-release").countDown();
            assertThat(Futures.gather(holds)).containsExactly(true, true, true);
            try (var acquisition = given.acquire(db, LONG)) {
                assertThat(acquisition.granted()).containsEntry("db_conn", 1.0);
            }
        }
    }

    @Test
    @DisplayName("L20 L21 a LimitPool of Hazelcast sets (the seed's regions) works for workers on the members")
    void l20_l21_aPoolOfHazelcastSetsGivenToAClusterPoolWorksOnTheMembers() {
        String run = "regions-" + System.nanoTime();
        try (HazelcastBackend backend = HazelcastBackend.of(cluster.embeddedMember(0));
                LimitSet usEast = LimitSet.builder().name(run + "-us").add(RateLimit.of("tpm", 3, Duration.ofHours(1)))
                        .config("region", "us-east-1").backend(backend).build();
                LimitSet euWest = LimitSet.builder().name(run + "-eu").add(RateLimit.of("tpm", 3, Duration.ofHours(1)))
                        .config("region", "eu-west-1").backend(backend).build();
                WorkerPool<Counter> pool = options().maxWorkers(3)
                        .limits(dev.concurry.limit.LimitPool.of(usEast, euWest))
                        .init(() -> new Counter("regions"))) {
            List<String> regions = IntStream.range(0, 7).mapToObj(i -> (String) pool.call(w -> w.region("tpm")))
                    .toList();
            // Three units in each region, taken by workers on every member from the shared sets; then none left.
            assertThat(regions.subList(0, 6)).containsOnly("us-east-1", "eu-west-1");
            assertThat(regions.stream().filter("us-east-1"::equals).count()).isEqualTo(3);
            assertThat(regions.get(6)).isEqualTo("none");
            assertThat(usEast.stats().key("tpm").inUse()).isEqualTo(3);
            assertThat(euWest.stats().key("tpm").inUse()).isEqualTo(3);
        }
    }

    @Test
    void l20_theEmptySetAndPrivateSpecsWorkInClusterPools() {
        try (WorkerPool<Counter> pool = options().limits(LimitSet.empty()).init(() -> new Counter("empty"))) {
            assertThat((String) pool.call(Counter::limiterKind)).isEqualTo("empty");
        }
        // sharedLimits(false): each worker builds its own in-memory quota on its member.
        try (WorkerPool<Counter> pool = options().maxWorkers(2).sharedLimits(false)
                .limits(RateLimit.of("requests", 2, Duration.ofHours(1))).init(() -> new Counter("private"))) {
            List<Boolean> taken = IntStream.range(0, 6).mapToObj(i -> (Boolean) pool.call(w -> w.tryTake("requests")))
                    .toList();
            // Round robin over two workers with 2 requests each: 4 granted, then both quotas are spent.
            assertThat(taken).containsExactly(true, true, true, true, false, false);
            assertThat((String) pool.call(Counter::limiterKind)).isEqualTo("in-memory");
        }
    }

    @Test
    void w9_aTaskExecutorRunsPlainFunctionsOnTheMembers() {
        try (TaskExecutor tasks = TaskExecutor.options().mode(Mode.CLUSTER).cluster(hz).maxWorkers(3).init()) {
            List<String> out = Futures.gather(tasks.map(List.of("a", "b", "c", "d"),
                    s -> s.toUpperCase() + "@"
                            + Thread.currentThread().getName().startsWith("concurry-cluster-worker")));
            assertThat(out).containsExactly("A@true", "B@true", "C@true", "D@true");
            assertThat(tasks.submit(limits -> limits == LimitSet.empty()).join()).isTrue();
            assertThatThrownBy(() -> tasks.submit(() -> {
                throw new IOException("remote io");
            }).join()).cause().isExactlyInstanceOf(IOException.class).hasMessage("remote io");
        }
    }

    @Test
    void w2_aClientCanOwnAPoolAndTheMembersRemoveItsWorkersWhenItLeaves() throws Exception {
        HazelcastInstance client = cluster.newClient();
        HazelcastCluster viaClient = HazelcastCluster.of(client);
        WorkerPool<Counter> pool = Worker.options(Counter.class).mode(Mode.CLUSTER).cluster(viaClient).maxWorkers(3)
                .init(() -> new Counter("client"));
        assertThat((Long) pool.call(w -> w.add(5))).isEqualTo(5L);
        assertThat(placement(pool)).allSatisfy((member, ids) -> assertThat(ids).hasSize(1));

        client.shutdown(); // the owner leaves without closing its pool
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (hostedCount(pool) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(placement(pool)).as("the members removed the workers of the client that left")
                .allSatisfy((member, ids) -> assertThat(ids).isEmpty());
        pool.close(); // nothing to reach any more; must not hang
    }
}
