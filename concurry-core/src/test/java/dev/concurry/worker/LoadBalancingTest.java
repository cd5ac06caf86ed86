package dev.concurry.worker;

import static dev.concurry.worker.TestWorkers.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.worker.TestWorkers.Probe;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Pools and their load balancing (SPEC W4). */
class LoadBalancingTest {

    private static WorkerPool<Probe> pool(int n, LoadBalancing policy, AtomicInteger ids) {
        return Worker.options(Probe.class).mode(Mode.THREAD).maxWorkers(n).loadBalancing(policy)
                .init(() -> new Probe(ids.getAndIncrement()));
    }

    @Test
    void w4_roundRobinVisitsWorkersInExactOrder() {
        try (WorkerPool<Probe> pool = pool(3, LoadBalancing.ROUND_ROBIN, new AtomicInteger())) {
            List<CompletableFuture<Integer>> ids = new ArrayList<>();
            for (int i = 0; i < 9; i++) {
                ids.add(pool.submit(Probe::id));
            }
            assertThat(Futures.gather(ids)).containsExactly(0, 1, 2, 0, 1, 2, 0, 1, 2);
            assertThat(pool.stats().workers()).extracting(WorkerStats::total).containsExactly(3L, 3L, 3L);
        }
    }

    @Test
    void w4_leastActivePrefersTheIdleWorker() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (WorkerPool<Probe> pool = pool(2, LoadBalancing.LEAST_ACTIVE, new AtomicInteger())) {
            CompletableFuture<String> busy = pool.submit(w -> w.block(started, release));
            await(started);
            for (int i = 0; i < 10; i++) {
                int id = pool.call(Probe::id);
                assertThat(id).as("call %d", i).isEqualTo(1);
            }
            PoolStats stats = pool.stats();
            assertThat(stats.workers().get(0).active()).isEqualTo(1);
            assertThat(stats.workers().get(1).total()).isEqualTo(10);
            release.countDown();
            busy.join();
        }
    }

    @Test
    void w4_leastTotalEvensOutLifetimeCounts() throws Exception {
        try (WorkerPool<Probe> pool = pool(3, LoadBalancing.LEAST_TOTAL, new AtomicInteger())) {
            for (int i = 0; i < 30; i++) {
                pool.call(Probe::id);
            }
            assertThat(pool.stats().workers()).extracting(WorkerStats::total).containsExactly(10L, 10L, 10L);
        }
    }

    @Test
    void w4_randomUsesEveryWorker() {
        try (WorkerPool<Probe> pool = pool(3, LoadBalancing.RANDOM, new AtomicInteger())) {
            List<CompletableFuture<Integer>> ids = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                ids.add(pool.submit(Probe::id));
            }
            assertThat(new HashSet<>(Futures.gather(ids))).containsExactlyInAnyOrder(0, 1, 2);
        }
    }

    static class OneShot extends Worker {
        static final AtomicInteger ALIVE = new AtomicInteger();
        static final AtomicInteger MAX_ALIVE = new AtomicInteger();
        static final AtomicInteger CREATED = new AtomicInteger();
        private int calls;

        OneShot() {
            CREATED.incrementAndGet();
        }

        int work() throws InterruptedException {
            TestWorkers.maxUpdate(MAX_ALIVE, ALIVE.incrementAndGet());
            calls++;
            Thread.sleep(5);
            ALIVE.decrementAndGet();
            return calls;
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"SYNC", "THREAD", "VIRTUAL"})
    void w4_onDemandCreatesAWorkerPerCallAndNeverExceedsMaxWorkers(Mode mode) {
        OneShot.ALIVE.set(0);
        OneShot.MAX_ALIVE.set(0);
        OneShot.CREATED.set(0);
        Set<Thread> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        try (WorkerPool<OneShot> pool = Worker.options(OneShot.class).mode(mode).maxWorkers(3).onDemand(true)
                .init(OneShot::new)) {
            List<CompletableFuture<Integer>> calls = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                calls.add(pool.submit(w -> {
                    threads.add(Thread.currentThread());
                    return w.work();
                }));
            }
            assertThat(Futures.gather(calls)).containsOnly(1); // every call met a fresh instance
            assertThat(pool.stats().total()).isEqualTo(30);
            assertThat(pool.stats().completed()).isEqualTo(30);
            assertThat(pool.stats().failed()).isZero();
            assertThat(pool.stats().callNanos()).isPositive();
        }
        assertThat(OneShot.CREATED).hasValue(30);
        assertThat(OneShot.MAX_ALIVE.get()).isBetween(1, 3);
        if (mode != Mode.SYNC) {
            assertThat(threads).noneMatch(Thread::isAlive);
        }
    }
}
