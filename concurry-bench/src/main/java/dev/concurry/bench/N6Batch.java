package dev.concurry.bench;

import dev.concurry.worker.TaskExecutor;
import dev.concurry.worker.WorkerPool;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

/**
 * SPEC N6, throughput: {@link WorkerCallBench#BATCH} trivial calls submitted one after the other,
 * then every future awaited; the score is ns per call (JMH divides by the batch size).
 */
@OperationsPerInvocation(WorkerCallBench.BATCH)
public class N6Batch extends WorkerCallBench {
    private final CompletableFuture<?>[] futures = new CompletableFuture<?>[BATCH];
    private final Future<?>[] plain = new Future<?>[BATCH];

    private long pool(WorkerPool<Counter> pool) {
        for (int i = 0; i < BATCH; i++) {
            futures[i] = pool.submit(w -> w.inc());
        }
        return joinAll();
    }

    private long tasks(TaskExecutor tasks) {
        for (int i = 0; i < BATCH; i++) {
            futures[i] = tasks.submit(incTask);
        }
        return joinAll();
    }

    private long joinAll() {
        long sum = 0;
        for (int i = 0; i < BATCH; i++) {
            sum += (Long) futures[i].join();
            futures[i] = null;
        }
        return sum;
    }

    private long executor(ExecutorService executor) throws InterruptedException, ExecutionException {
        for (int i = 0; i < BATCH; i++) {
            plain[i] = executor.submit(incCallable);
        }
        long sum = 0;
        for (int i = 0; i < BATCH; i++) {
            sum += (Long) plain[i].get();
            plain[i] = null;
        }
        return sum;
    }

    @Benchmark
    public long thread1() {
        return pool(thread1);
    }

    @Benchmark
    public long thread2() {
        return pool(thread2);
    }

    @Benchmark
    public long virtual1() {
        return pool(virtual1);
    }

    @Benchmark
    public long virtual2() {
        return pool(virtual2);
    }

    @Benchmark
    public long taskThread1() {
        return tasks(taskThread1);
    }

    @Benchmark
    public long taskVirtual1() {
        return tasks(taskVirtual1);
    }

    @Benchmark
    public long executorFixed1() throws InterruptedException, ExecutionException {
        return executor(fixed1);
    }

    @Benchmark
    public long executorFixed2() throws InterruptedException, ExecutionException {
        return executor(fixed2);
    }

    @Benchmark
    public long executorVirtual() throws InterruptedException, ExecutionException {
        return executor(virtualPerTask);
    }
}
