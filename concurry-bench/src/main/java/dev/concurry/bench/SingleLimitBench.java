package dev.concurry.bench;

import dev.concurry.micrometer.ConcurryMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import com.google.common.util.concurrent.RateLimiter;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.Request;
import io.github.bucket4j.Bucket;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * SPEC N1: one rate limit, try-acquire of 1 unit and release, on one shared limiter configured far
 * above the offered load (every call succeeds), so only the limiter's own cost is measured.
 * {@link N1OneThread} and {@link N1TwoThreads} run these methods on 1 and 2 threads.
 *
 * <p>Concurry's rows are {@code tryAcquire(request).orElseThrow().close()}. The peers have no
 * release for a rate permit, so theirs is the try-acquire alone; the semaphore does
 * {@code tryAcquire} + {@code release}, as the floor of what any limiter can cost.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public abstract class SingleLimitBench {
    private static final Duration SECOND = Duration.ofSeconds(1);

    private LimitSet tokenBucket;
    /** The same limit with every Concurry meter bound to a registry (SPEC P2: the cost of metrics). */
    private LimitSet tokenBucketWithMetrics;
    private final Request tokenBucketWithMetricsRequest = Request.of("requests", 1);
    private LimitSet gcra;
    private LimitSet slidingWindow;
    // One Request per set: a request caches how the last set it met resolved it.
    private final Request tokenBucketRequest = Request.of("requests", 1);
    private final Request gcraRequest = Request.of("requests", 1);
    private final Request slidingWindowRequest = Request.of("requests", 1);
    private io.github.resilience4j.ratelimiter.RateLimiter resilience4j;
    private Bucket bucket4j;
    private RateLimiter guava;
    private Semaphore semaphore;

    @Setup
    public void setUp() {
        tokenBucket = Limiters.concurry("requests", RateAlgorithm.TOKEN_BUCKET, Limiters.HUGE, SECOND);
        tokenBucketWithMetrics = Limiters.concurry("requests", RateAlgorithm.TOKEN_BUCKET, Limiters.HUGE, SECOND);
        ConcurryMetrics.of(tokenBucketWithMetrics).bindTo(new SimpleMeterRegistry());
        gcra = Limiters.concurry("requests", RateAlgorithm.GCRA, Limiters.HUGE, SECOND);
        // A sliding window keeps one entry per grant (SPEC L6) in a ring of 512 entries; at this rate
        // the ring fills every few hundred grants and is compacted (entries in one 1/256-window cell merge).
        slidingWindow = Limiters.concurry("requests", RateAlgorithm.SLIDING_WINDOW, Limiters.HUGE, SECOND);
        resilience4j = Limiters.resilience4j((int) Limiters.HUGE, SECOND);
        bucket4j = Limiters.bucket4j(Limiters.HUGE, SECOND);
        guava = Limiters.guava(Limiters.HUGE);
        semaphore = new Semaphore(Integer.MAX_VALUE / 2);
    }

    @TearDown
    public void tearDown() {
        tokenBucket.close();
        tokenBucketWithMetrics.close();
        gcra.close();
        slidingWindow.close();
    }

    @Benchmark
    public Acquisition concurryTokenBucket() {
        Acquisition acquisition = tokenBucket.tryAcquire(tokenBucketRequest).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    public Acquisition concurryTokenBucketWithMetrics() {
        Acquisition acquisition = tokenBucketWithMetrics.tryAcquire(tokenBucketWithMetricsRequest).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    public Acquisition concurryGcra() {
        Acquisition acquisition = gcra.tryAcquire(gcraRequest).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    public Acquisition concurrySlidingWindow() {
        Acquisition acquisition = slidingWindow.tryAcquire(slidingWindowRequest).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    public boolean resilience4jAtomic() {
        return resilience4j.acquirePermission();
    }

    @Benchmark
    public boolean bucket4jLocal() {
        return bucket4j.tryConsume(1);
    }

    @Benchmark
    public boolean guavaSmoothBursty() {
        return guava.tryAcquire();
    }

    @Benchmark
    public boolean semaphoreFloor() {
        if (semaphore.tryAcquire()) {
            semaphore.release();
            return true;
        }
        return false;
    }
}
