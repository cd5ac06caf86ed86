package dev.concurry.bench;

import java.util.concurrent.ExecutionException;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * SPEC N6, latency: one trivial call submitted and awaited, {@code submit(...).join()} (Concurry) or
 * {@code submit(...).get()} (a bare {@link java.util.concurrent.ExecutorService}). ns per call.
 */
public class N6Call extends WorkerCallBench {

    @Benchmark
    public long thread1() {
        return thread1.submit(w -> w.inc()).join();
    }

    @Benchmark
    public long thread2() {
        return thread2.submit(w -> w.inc()).join();
    }

    @Benchmark
    public long virtual1() {
        return virtual1.submit(w -> w.inc()).join();
    }

    @Benchmark
    public long virtual2() {
        return virtual2.submit(w -> w.inc()).join();
    }

    @Benchmark
    public long taskThread1() {
        return taskThread1.submit(incTask).join();
    }

    @Benchmark
    public long taskVirtual1() {
        return taskVirtual1.submit(incTask).join();
    }

    @Benchmark
    public long executorFixed1() throws InterruptedException, ExecutionException {
        return fixed1.submit(incCallable).get();
    }

    @Benchmark
    public long executorFixed2() throws InterruptedException, ExecutionException {
        return fixed2.submit(incCallable).get();
    }

    @Benchmark
    public long executorVirtual() throws InterruptedException, ExecutionException {
        return virtualPerTask.submit(incCallable).get();
    }
}
