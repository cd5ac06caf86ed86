package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.CallLimit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class WorkerLimitsTest {

    static class ApiWorker extends Worker {
        private final ConcurrentLinkedQueue<long[]> starts;

        ApiWorker(ConcurrentLinkedQueue<long[]> starts) {
            this.starts = starts;
        }

        /** Logs {before acquire, after acquire}: the grant happened somewhere in between. */
        void call() {
            long before = System.nanoTime();
            try (Acquisition acq = limits().acquire()) {
                starts.add(new long[] {before, System.nanoTime()});
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void l20_tenWorkersSharingACallLimitNeverExceedItInAnySecond(Mode mode) {
        ConcurrentLinkedQueue<long[]> starts = new ConcurrentLinkedQueue<>();
        try (LimitSet limits = LimitSet.builder().add(CallLimit.of(100, Duration.ofSeconds(1))).build();
                WorkerPool<ApiWorker> pool = Worker.options(ApiWorker.class).mode(mode).maxWorkers(10)
                        .limits(limits).init(() -> new ApiWorker(starts))) {
            List<CompletableFuture<Object>> calls = new ArrayList<>();
            for (int i = 0; i < 250; i++) {
                calls.add(pool.submit(w -> {
                    w.call();
                    return null;
                }));
            }
            Futures.gather(calls, Duration.ofSeconds(20));
        }
        List<long[]> grants = starts.stream().sorted(java.util.Comparator.comparingLong(g -> g[0])).toList();
        assertThat(grants).hasSize(250);
        // Sound on a loaded machine: a grant happened between its "before" and "after", so the grants
        // whose whole interval lies in [a, a + 1 s) were certainly granted in one window of the limit.
        long window = TimeUnit.SECONDS.toNanos(1);
        int worst = 0;
        for (long[] start : grants) {
            long a = start[0];
            int inWindow = 0;
            for (long[] g : grants) {
                if (g[0] >= a && g[1] < a + window) {
                    inWindow++;
                }
            }
            worst = Math.max(worst, inWindow);
        }
        assertThat(worst).as("most calls certainly granted within one second").isLessThanOrEqualTo(100)
                .as("the check must see a nearly full window to mean anything").isGreaterThanOrEqualTo(50);
        long firstAsked = grants.get(0)[0];
        long lastReturned = grants.stream().mapToLong(g -> g[1]).max().orElseThrow();
        assertThat(lastReturned - firstAsked).as("250 calls at 100/s need 2 more windows")
                .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(2000));
    }

    static class DbWorker extends Worker {
        static final AtomicInteger INSIDE = new AtomicInteger();
        static final AtomicInteger MAX_INSIDE = new AtomicInteger();

        int query() throws InterruptedException {
            try (Acquisition acq = limits().acquire(Request.of("db_conn", 1))) {
                TestWorkers.maxUpdate(MAX_INSIDE, INSIDE.incrementAndGet());
                Thread.sleep(2); // the "query": lets the others pile up at the limit
                INSIDE.decrementAndGet();
                return 1;
            }
        }

        Limiter limiter() {
            return limits();
        }

        boolean holdAll(CyclicBarrier together) throws Exception {
            Optional<Acquisition> all = limits().tryAcquire(Request.of("db_conn", 5));
            together.await(10, TimeUnit.SECONDS);
            all.ifPresent(Acquisition::close);
            return all.isPresent();
        }
    }

    private static void twentyWorkersNeverHoldMoreThanFive(WorkerOptions<DbWorker> options) {
        DbWorker.INSIDE.set(0);
        DbWorker.MAX_INSIDE.set(0);
        try (WorkerPool<DbWorker> pool = options.maxWorkers(20).init(DbWorker::new)) {
            List<CompletableFuture<Integer>> calls = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                calls.add(pool.submit(DbWorker::query));
            }
            assertThat(Futures.gather(calls, Duration.ofSeconds(20))).hasSize(200);
        }
        assertThat(DbWorker.MAX_INSIDE.get()).isBetween(1, 5);
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void l20_twentyWorkersSharingFiveConnectionsNeverHoldMore(Mode mode) {
        try (LimitSet db = LimitSet.builder().add(ResourceLimit.of("db_conn", 5)).build()) {
            twentyWorkersNeverHoldMoreThanFive(Worker.options(DbWorker.class).mode(mode).limits(db));
            assertThat(db.stats().key("db_conn").inUse()).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void l20_plainSpecsBecomeOneSetSharedByThePool(Mode mode) {
        twentyWorkersNeverHoldMoreThanFive(
                Worker.options(DbWorker.class).mode(mode).limits(ResourceLimit.of("db_conn", 5)));
        try (WorkerPool<DbWorker> pool = Worker.options(DbWorker.class).mode(mode).maxWorkers(3)
                .limits(ResourceLimit.of("db_conn", 5)).init(DbWorker::new)) {
            List<CompletableFuture<Limiter>> limiters = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                limiters.add(pool.submit(DbWorker::limiter));
            }
            assertThat(Futures.gather(limiters).stream().distinct()).hasSize(1);
        }
    }

    @Test
    void l20_sharedLimitsFalseGivesEachWorkerItsOwnQuota() {
        CyclicBarrier together = new CyclicBarrier(3);
        try (WorkerPool<DbWorker> pool = Worker.options(DbWorker.class).mode(Mode.THREAD).maxWorkers(3)
                .limits(ResourceLimit.of("db_conn", 5)).sharedLimits(false).init(DbWorker::new)) {
            List<CompletableFuture<Boolean>> held = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                held.add(pool.submit(w -> w.holdAll(together)));
            }
            assertThat(Futures.gather(held)).containsExactly(true, true, true);
        }
    }

    @Test
    void l20_sharedPlainSpecsAreOneQuotaForAllWorkers() {
        CyclicBarrier together = new CyclicBarrier(3);
        try (WorkerPool<DbWorker> pool = Worker.options(DbWorker.class).mode(Mode.THREAD).maxWorkers(3)
                .limits(ResourceLimit.of("db_conn", 5)).init(DbWorker::new)) {
            List<CompletableFuture<Boolean>> held = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                held.add(pool.submit(w -> w.holdAll(together)));
            }
            assertThat(Futures.gather(held).stream().filter(b -> b)).hasSize(1);
        }
    }

    @Test
    void l20_anInMemorySetIsRefusedForProcessWorkersNamingTheBackendToUse() {
        try (LimitSet inMemory = LimitSet.builder().add(ResourceLimit.of("db_conn", 5)).build()) {
            assertThatThrownBy(() -> LimitsPlan.checkSuitsMode(Mode.PROCESS, inMemory))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Backends.sharedMemory(")
                    .hasMessageContaining(inMemory.name());
            assertThatThrownBy(() -> Worker.options(DbWorker.class).mode(Mode.PROCESS).limits(inMemory)
                    .init(DbWorker::new))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Backends.sharedMemory(");
            for (Mode mode : Arrays.asList(Mode.SYNC, Mode.THREAD, Mode.VIRTUAL)) {
                LimitsPlan.checkSuitsMode(mode, inMemory); // accepted
            }
        }
        LimitsPlan.checkSuitsMode(Mode.PROCESS, LimitSet.empty()); // nothing to share: fine anywhere
        assertThat(Backends.inMemory().crossProcess()).isFalse();
    }

    @Test
    void l20_contradictoryLimitOptionsFailAtInit() {
        try (LimitSet db = LimitSet.builder().add(ResourceLimit.of("db_conn", 5)).build()) {
            assertThatThrownBy(() -> Worker.options(DbWorker.class).limits(db).sharedLimits(false).init(DbWorker::new))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sharedLimits(false)");
        }
        assertThatThrownBy(() -> Worker.options(DbWorker.class).onDemand(true).limits(ResourceLimit.of("db_conn", 5))
                .sharedLimits(false).init(DbWorker::new))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("on-demand");
    }
}
