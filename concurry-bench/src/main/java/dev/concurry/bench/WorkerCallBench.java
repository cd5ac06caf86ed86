package dev.concurry.bench;

import dev.concurry.worker.Mode;
import dev.concurry.worker.TaskExecutor;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerPool;
import dev.concurry.worker.Task;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * SPEC N6: the overhead of a worker call. The call itself is trivial ({@code w -> w.inc()}, which
 * increments a field and returns it), so what is measured is the pool's own cost: handing the call
 * to a worker thread, running it there and completing the caller's future, plus waking the caller.
 * {@link N6Call} submits one call and waits for it ({@code submit(...).join()}); {@link N6Batch}
 * submits {@link #BATCH} calls and then waits for all of them (ns per call).
 *
 * <p>Concurry's rows are a {@link WorkerPool} in {@link Mode#THREAD} (one platform thread per worker)
 * or {@link Mode#VIRTUAL} (one virtual thread per call) with 1 or 2 workers, and a
 * {@link TaskExecutor} (the same machinery for plain functions). The baselines are a bare
 * {@link ExecutorService}: {@code Executors.newFixedThreadPool(1 or 2)} and
 * {@code Executors.newVirtualThreadPerTaskExecutor()}, {@code submit(callable)} then {@code get()}.
 */
@BenchmarkMode(org.openjdk.jmh.annotations.Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
@Threads(1)
public abstract class WorkerCallBench {
    /** Calls per invocation of the {@link N6Batch} benchmarks. */
    public static final int BATCH = 100;

    /** The worker of the benchmark: one counter per worker instance. */
    public static final class Counter extends Worker {
        private long count;

        public long inc() {
            return ++count;
        }
    }

    WorkerPool<Counter> thread1;
    WorkerPool<Counter> thread2;
    WorkerPool<Counter> virtual1;
    WorkerPool<Counter> virtual2;
    TaskExecutor taskThread1;
    TaskExecutor taskVirtual1;
    ExecutorService fixed1;
    ExecutorService fixed2;
    ExecutorService virtualPerTask;
    /** What the bare-executor tasks increment (one object, as a worker pool of 1 has). */
    final Counter executorCounter = new Counter();
    /** The bare executors' task, built once (as Concurry's non-capturing {@code w -> w.inc()} is). */
    final Callable<Long> incCallable = executorCounter::inc;
    /** The task executors' task. */
    final Task<Long> incTask = executorCounter::inc;

    @Setup(Level.Trial)
    public void setUp() {
        thread1 = pool(Mode.THREAD, 1);
        thread2 = pool(Mode.THREAD, 2);
        virtual1 = pool(Mode.VIRTUAL, 1);
        virtual2 = pool(Mode.VIRTUAL, 2);
        taskThread1 = TaskExecutor.options().mode(Mode.THREAD).maxWorkers(1).init();
        taskVirtual1 = TaskExecutor.options().mode(Mode.VIRTUAL).maxWorkers(1).init();
        fixed1 = Executors.newFixedThreadPool(1);
        fixed2 = Executors.newFixedThreadPool(2);
        virtualPerTask = Executors.newVirtualThreadPerTaskExecutor();
    }

    private static WorkerPool<Counter> pool(Mode mode, int workers) {
        return Worker.options(Counter.class).mode(mode).maxWorkers(workers).init(Counter::new);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        thread1.close();
        thread2.close();
        virtual1.close();
        virtual2.close();
        taskThread1.close();
        taskVirtual1.close();
        for (ExecutorService e : new ExecutorService[] {fixed1, fixed2, virtualPerTask}) {
            e.shutdown();
            if (!e.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("executor did not terminate: " + e);
            }
        }
    }
}
