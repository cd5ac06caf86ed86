package dev.concurry.bench;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import io.github.bucket4j.Bucket;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * SPEC N2: an LLM call's three limits (1 request, 100 tokens, 1 connection) taken and given back.
 * <ul>
 *   <li>{@link #concurryAtomic}: one Concurry set holding all three, one atomic acquisition.</li>
 *   <li>{@link #concurrySeparate}: three one-limit Concurry sets, acquired one after the other
 *       (what the atomic acquisition must beat), giving back what was taken if a later one fails.</li>
 *   <li>{@link #peersByHand}: two Bucket4j buckets and a {@link Semaphore}, with hand-written
 *       compensation on failure: not atomic (another thread can see the first bucket drained for a
 *       request that is then rolled back), shown for the cost of doing it by hand.</li>
 * </ul>
 * Every limit is far above the offered load, so every call succeeds. {@link N2OneThread} and
 * {@link N2TwoThreads} run these on 1 and 2 threads.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public abstract class ThreeLimitsBench {
    private static final Duration SECOND = Duration.ofSeconds(1);
    private static final int TOKENS = 100;
    private static final Duration TOKENS_WINDOW = Duration.ofSeconds(TOKENS);

    /** The algorithm of the two Concurry rate limits; TOKEN_BUCKET is like-for-like with Bucket4j. */
    @Param({"TOKEN_BUCKET"})
    public String algorithm;

    private LimitSet atomic;
    private final Request atomicRequest = Request.of("requests", 1).and("tokens", TOKENS).and("connections", 1);

    private LimitSet requests;
    private LimitSet tokens;
    private LimitSet connections;
    private final Request requestsRequest = Request.of("requests", 1);
    private final Request tokensRequest = Request.of("tokens", TOKENS);
    private final Request connectionsRequest = Request.of("connections", 1);

    private Bucket requestsBucket;
    private Bucket tokensBucket;
    private Semaphore connectionsSemaphore;

    @Setup
    public void setUp() {
        RateAlgorithm rate = RateAlgorithm.valueOf(algorithm);
        RateLimit requestsLimit = RateLimit.of("requests", Limiters.HUGE, SECOND, rate);
        // 100 billion tokens per 100 s: Bucket4j refills at most 1 token per nanosecond.
        RateLimit tokensLimit = RateLimit.of("tokens", Limiters.HUGE * TOKENS, TOKENS_WINDOW, rate);
        ResourceLimit connectionsLimit = ResourceLimit.of("connections", 1_000);
        atomic = LimitSet.builder().add(requestsLimit).add(tokensLimit).add(connectionsLimit).build();
        requests = LimitSet.builder().add(requestsLimit).build();
        tokens = LimitSet.builder().add(tokensLimit).build();
        connections = LimitSet.builder().add(connectionsLimit).build();
        requestsBucket = Limiters.bucket4j(Limiters.HUGE, SECOND);
        tokensBucket = Limiters.bucket4j(Limiters.HUGE * TOKENS, TOKENS_WINDOW);
        connectionsSemaphore = new Semaphore(1_000);
    }

    @TearDown
    public void tearDown() {
        atomic.close();
        requests.close();
        tokens.close();
        connections.close();
    }

    @Benchmark
    public Acquisition concurryAtomic() {
        Acquisition acquisition = atomic.tryAcquire(atomicRequest).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    public Acquisition concurrySeparate() {
        Acquisition r = requests.tryAcquire(requestsRequest).orElse(null);
        if (r == null) {
            return null;
        }
        Acquisition t = tokens.tryAcquire(tokensRequest).orElse(null);
        if (t == null) {
            r.update("requests", 0).close();
            return null;
        }
        Acquisition c = connections.tryAcquire(connectionsRequest).orElse(null);
        if (c == null) {
            t.update("tokens", 0).close();
            r.update("requests", 0).close();
            return null;
        }
        c.close();
        t.close();
        r.close();
        return c;
    }

    @Benchmark
    public boolean peersByHand() {
        if (!requestsBucket.tryConsume(1)) {
            return false;
        }
        if (!tokensBucket.tryConsume(TOKENS)) {
            requestsBucket.addTokens(1);
            return false;
        }
        if (!connectionsSemaphore.tryAcquire()) {
            tokensBucket.addTokens(TOKENS);
            requestsBucket.addTokens(1);
            return false;
        }
        connectionsSemaphore.release();
        return true;
    }
}
