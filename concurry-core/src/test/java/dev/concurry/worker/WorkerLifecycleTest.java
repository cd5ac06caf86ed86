package dev.concurry.worker;

import static dev.concurry.worker.TestWorkers.await;
import static dev.concurry.worker.TestWorkers.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.worker.TestWorkers.Probe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Cancellation (W6), back-pressure (W5) and closing (W7). */
class WorkerLifecycleTest {

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void w6_cancellingARunningCallInterruptsItAndTheWorkerServesTheNext(Mode mode) throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        try (WorkerPool<Probe> pool = Worker.options(Probe.class).mode(mode).init(Probe::new)) {
            CompletableFuture<String> running = pool.submit(w -> {
                try {
                    return w.block(started, new CountDownLatch(1));
                } catch (InterruptedException e) {
                    interrupted.countDown();
                    throw e;
                }
            });
            await(started);
            assertThat(running.cancel(true)).isTrue();
            await(interrupted);
            assertThatThrownBy(running::join).isInstanceOf(CancellationException.class);
            String next = pool.call(w -> w.echo("next"));
            assertThat(next).isEqualTo("next@0");
            boolean stillInterrupted = pool.call(w -> Thread.currentThread().isInterrupted());
            assertThat(stillInterrupted).isFalse();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD"})
    void w6_aCancelledQueuedCallNeverRuns(Mode mode) throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean ran = new AtomicBoolean();
        try (WorkerPool<Probe> pool = Worker.options(Probe.class).mode(mode).init(Probe::new)) {
            CompletableFuture<String> blocker = pool.submit(w -> w.block(started, release));
            await(started);
            CompletableFuture<Boolean> queued = pool.submit(w -> ran.getAndSet(true));
            assertThat(pool.stats().queued()).isEqualTo(1);
            assertThat(queued.cancel(false)).isTrue();
            assertThat(pool.stats().queued()).isZero();
            release.countDown();
            assertThat(blocker.join()).isEqualTo("released@0");
            String after = pool.call(w -> w.echo("after")); // runs after where the cancelled call stood
            assertThat(after).isEqualTo("after@0");
            assertThat(ran).isFalse();
        }
    }

    @Test
    void w5_aFullQueueBlocksSubmitUntilThereIsRoomAndDropsNothing() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (WorkerPool<Probe> pool = Worker.options(Probe.class).mode(Mode.THREAD).maxQueuedTasks(2)
                .init(Probe::new)) {
            CompletableFuture<String> first = pool.submit(w -> w.block(started, release));
            await(started);
            CompletableFuture<String> second = pool.submit(w -> w.echo("second"));
            AtomicReference<CompletableFuture<String>> third = new AtomicReference<>();
            Thread submitter = Thread.ofPlatform().start(() -> third.set(pool.submit(w -> w.echo("third"))));
            awaitBlocked(submitter);
            assertThat(third.get()).as("submit still blocked").isNull();
            release.countDown();
            submitter.join();
            assertThat(Futures.gather(List.of(first, second, third.get())))
                    .containsExactly("released@0", "second@0", "third@0");
        }
    }

    @Test
    void w5_failFastRejectsWhenFull() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (WorkerPool<Probe> pool = Worker.options(Probe.class).mode(Mode.VIRTUAL).maxQueuedTasks(2)
                .blockWhenFull(false).init(Probe::new)) {
            CompletableFuture<String> first = pool.submit(w -> w.block(started, release));
            CompletableFuture<String> second = pool.submit(w -> w.block(started, release));
            assertThatThrownBy(() -> pool.submit(w -> w.echo("third")))
                    .isInstanceOf(RejectedExecutionException.class).hasMessageContaining("maxQueuedTasks");
            release.countDown();
            Futures.gather(List.of(first, second));
            String later = pool.call(w -> w.echo("later"));
            assertThat(later).isEqualTo("later@0");
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void w5_manySubmittersThroughATinyQueueLoseNoCall(Mode mode) throws Exception {
        AtomicInteger done = new AtomicInteger();
        List<CompletableFuture<Integer>> futures = java.util.Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool<Probe> pool = Worker.options(Probe.class).mode(mode).maxWorkers(2).maxQueuedTasks(2)
                .init(Probe::new)) {
            List<Thread> submitters = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                submitters.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 250; i++) {
                        futures.add(pool.submit(w -> done.incrementAndGet()));
                    }
                }));
            }
            for (Thread submitter : submitters) {
                submitter.join();
            }
            Futures.gather(new ArrayList<>(futures));
        }
        assertThat(done).hasValue(1000);
    }

    @Test
    void w7_afterCloseNoPoolThreadIsAliveAndCallsFailClearly() {
        WorkerPool<Probe> pool = Worker.options(Probe.class).mode(Mode.THREAD).maxWorkers(4).name("closing")
                .init(Probe::new);
        for (int i = 0; i < 20; i++) {
            pool.submit(w -> w.echo("x"));
        }
        assertThat(Thread.getAllStackTraces().keySet())
                .anyMatch(t -> t.getName().startsWith("concurry-closing-worker-"));
        pool.close();
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("concurry-closing-"));
        assertThat(pool.stats().total()).isEqualTo(20);
        assertThatThrownBy(() -> pool.submit(w -> w.echo("late")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("'closing' is closed");
        pool.close(); // idempotent
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void w7_closeFinishesQueuedCallsByDefaultAndEndsEveryThread(Mode mode) {
        Set<Thread> used = ConcurrentHashMap.newKeySet();
        List<CompletableFuture<Integer>> futures = new ArrayList<>();
        try (WorkerPool<Probe> pool = Worker.options(Probe.class).mode(mode).maxWorkers(3).init(Probe::new)) {
            for (int i = 0; i < 60; i++) {
                int n = i;
                futures.add(pool.submit(w -> {
                    used.add(Thread.currentThread());
                    Thread.sleep(1);
                    return n;
                }));
            }
        }
        assertThat(futures).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
        assertThat(used).isNotEmpty().noneMatch(Thread::isAlive);
    }

    @Test
    void w7_closeCanCancelQueuedCalls() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        WorkerPool<Probe> pool = Worker.options(Probe.class).mode(Mode.THREAD).cancelQueuedOnClose(true)
                .init(Probe::new);
        CompletableFuture<String> running = pool.submit(w -> w.block(started, release));
        await(started);
        List<CompletableFuture<Integer>> queued = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            queued.add(pool.submit(w -> ran.incrementAndGet()));
        }
        Thread closer = Thread.ofPlatform().start(pool::close);
        for (CompletableFuture<Integer> f : queued) {
            assertThatThrownBy(f::join).isInstanceOf(CancellationException.class);
        }
        release.countDown();
        closer.join();
        assertThat(running.join()).isEqualTo("released@0"); // the running call was allowed to finish
        assertThat(ran).hasValue(0);
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void w7_closeInterruptsCallsStillRunningAfterTheTimeout(Mode mode) throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicReference<Thread> runner = new AtomicReference<>();
        WorkerPool<Probe> pool = Worker.options(Probe.class).mode(mode).closeTimeout(Duration.ofMillis(50))
                .init(Probe::new);
        CompletableFuture<String> stuck = pool.submit(w -> {
            runner.set(Thread.currentThread());
            return w.block(started, new CountDownLatch(1));
        });
        await(started);
        pool.close();
        assertThatThrownBy(stuck::join).isInstanceOf(CancellationException.class);
        assertThat(runner.get().isAlive()).isFalse();
    }

    @Test
    void w7_closeWakesBlockedSubmittersWithIllegalState() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        WorkerPool<Probe> pool = Worker.options(Probe.class).mode(Mode.THREAD).maxQueuedTasks(1)
                .init(Probe::new);
        pool.submit(w -> w.block(started, release));
        await(started);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread submitter = Thread.ofPlatform().start(() -> {
            try {
                pool.submit(w -> w.echo("never"));
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        awaitBlocked(submitter);
        Thread closer = Thread.ofPlatform().start(pool::close);
        submitter.join();
        assertThat(failure.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        release.countDown();
        closer.join();
    }
}
