package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.LimitSet;
import dev.concurry.worker.TestWorkers.Probe;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class WorkerModesTest {

    private static WorkerPool<Probe> pool(Mode mode) {
        return Worker.options(Probe.class).mode(mode).closeTimeout(TestWorkers.LONG).init(Probe::new);
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"SYNC", "THREAD", "VIRTUAL"})
    void w1_resultsComeBackThroughFuturesAndCall(Mode mode) {
        try (WorkerPool<Probe> pool = pool(mode)) {
            CompletableFuture<String> future = pool.submit(w -> w.echo("hello"));
            assertThat(future.join()).isEqualTo("hello@0");
            String direct = pool.call(w -> w.echo("hi"));
            assertThat(direct).isEqualTo("hi@0");
            assertThat(pool.mode()).isEqualTo(mode);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"SYNC", "THREAD", "VIRTUAL"})
    void w6_exceptionsKeepTheirOriginalTypeAsCause(Mode mode) {
        try (WorkerPool<Probe> pool = pool(mode)) {
            CompletableFuture<String> unchecked = pool.submit(w -> w.failUnchecked("bad"));
            CompletableFuture<String> checked = pool.submit(w -> w.failChecked("io"));

            assertThatThrownBy(unchecked::get).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessage("bad");
            assertThatThrownBy(unchecked::join).isInstanceOf(CompletionException.class)
                    .cause().isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(checked::get).cause().isInstanceOf(IOException.class).hasMessage("io");

            assertThatThrownBy(() -> pool.call(w -> w.failUnchecked("direct")))
                    .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("direct");
            assertThatThrownBy(() -> pool.call(w -> w.failChecked("wrapped")))
                    .isInstanceOf(CallFailedException.class)
                    .cause().isInstanceOf(IOException.class).hasMessage("wrapped");
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"SYNC", "THREAD", "VIRTUAL"})
    void w6_aFailingCallNeverKillsItsWorker(Mode mode) {
        try (WorkerPool<Probe> pool = pool(mode)) {
            for (int i = 0; i < 20; i++) {
                int n = i;
                CompletableFuture<String> failing = pool.submit(w -> w.failUnchecked("x" + n));
                CompletableFuture<Error> error = pool.submit(w -> {
                    throw new AssertionError("an Error too");
                });
                assertThatThrownBy(failing::join).cause().isInstanceOf(IllegalArgumentException.class);
                assertThat(pool.submit(w -> w.echo("after" + n)).join()).isEqualTo("after" + n + "@0");
                assertThatThrownBy(error::join).cause().isInstanceOf(AssertionError.class);
            }
            assertThat(pool.stats().failed()).isEqualTo(40);
            assertThat(pool.stats().total()).isEqualTo(60);
            assertThat(pool.stats().completed()).as("every call ran and ended").isEqualTo(60);
            assertThat(pool.stats().callNanos()).isPositive();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"SYNC", "THREAD", "VIRTUAL"})
    void w3_limitsAreNeverNullAndDefaultToTheEmptySet(Mode mode) {
        try (WorkerPool<Probe> pool = pool(mode)) {
            assertThat(pool.call(Probe::limiter)).isSameAs(LimitSet.empty());
        }
        assertThat(new Probe().limiter()).isSameAs(LimitSet.empty());
    }

    @Test
    void w2_syncModeRunsOnTheCallerAndReturnsACompletedFuture() {
        try (WorkerPool<Probe> pool = pool(Mode.SYNC)) {
            Thread caller = Thread.currentThread();
            CompletableFuture<Thread> future = pool.submit(w -> Thread.currentThread());
            assertThat(future).isCompletedWithValue(caller);
        }
    }

    /** A worker whose state has no locks: THREAD mode must make that safe. */
    static class Sequencer extends Worker {
        final AtomicInteger inside = new AtomicInteger();
        final AtomicInteger maxInside = new AtomicInteger();
        final List<Integer> order = new ArrayList<>(); // unsynchronized on purpose

        int step(int n) {
            TestWorkers.maxUpdate(maxInside, inside.incrementAndGet());
            order.add(n);
            Thread.onSpinWait();
            inside.decrementAndGet();
            return n;
        }
    }

    @Test
    void w2_callsOnOneThreadWorkerNeverOverlapAndRunInSubmissionOrder() throws Exception {
        Sequencer worker = new Sequencer();
        try (WorkerPool<Sequencer> pool = Worker.options(Sequencer.class).mode(Mode.THREAD).init(() -> worker)) {
            List<CompletableFuture<Integer>> futures = new ArrayList<>();
            List<Thread> submitters = new ArrayList<>();
            // one submitter keeps a known order; others hammer concurrently to provoke overlap
            for (int t = 0; t < 3; t++) {
                Thread submitter = Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 500; i++) {
                        pool.submit(w -> w.step(-1));
                    }
                });
                submitters.add(submitter);
            }
            for (int i = 0; i < 2000; i++) {
                int n = i;
                futures.add(pool.submit(w -> w.step(n)));
            }
            for (Thread submitter : submitters) {
                submitter.join();
            }
            Futures.gather(futures);
            int maxInside = pool.call(w -> w.maxInside.get());
            assertThat(maxInside).isEqualTo(1);
            List<Integer> mine = pool.call(w -> w.order.stream().filter(n -> n >= 0).toList());
            assertThat(mine).hasSize(2000).isSorted();
            int size = pool.call(w -> w.order.size());
            assertThat(size).isEqualTo(3500);
        }
    }

    @Test
    void w2_virtualCallsOnOneWorkerMayOverlap() throws Exception {
        java.util.concurrent.CyclicBarrier together = new java.util.concurrent.CyclicBarrier(4);
        try (WorkerPool<Probe> pool = Worker.options(Probe.class).mode(Mode.VIRTUAL).init(Probe::new)) {
            List<CompletableFuture<Integer>> futures = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                futures.add(pool.submit(w -> together.await(10, java.util.concurrent.TimeUnit.SECONDS)));
            }
            assertThat(Futures.gather(futures)).hasSize(4);
        }
    }

    @Test
    void w1_aFailingConstructorFailsInitAndLeavesNoThread() {
        AtomicInteger made = new AtomicInteger();
        assertThatThrownBy(() -> Worker.options(Probe.class).mode(Mode.THREAD).maxWorkers(3).name("badinit")
                .init(() -> {
                    if (made.incrementAndGet() == 2) {
                        throw new IllegalStateException("no connection");
                    }
                    return new Probe();
                })).isInstanceOf(IllegalStateException.class).hasMessage("no connection");
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("concurry-badinit-"));
    }

    @Test
    void w1_theFactoryMustReturnANewInstanceEachTime() {
        Probe shared = new Probe();
        assertThatThrownBy(() -> Worker.options(Probe.class).maxWorkers(2).init(() -> shared))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("new instance");
    }
}
