package dev.concurry.bench;

import com.google.common.util.concurrent.RateLimiter;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import io.github.bucket4j.Bucket;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import java.time.Duration;

/** The limiters under test, built the same way by the JMH benchmarks and the accuracy run. */
final class Limiters {
    /**
     * Units per second for "far above the offered load": one billion per second, while one thread
     * manages at most a few tens of millions of calls per second, so every call succeeds.
     */
    static final long HUGE = 1_000_000_000L;

    private Limiters() {
    }

    /** A Concurry in-memory set with one rate limit {@code key}. */
    static LimitSet concurry(String key, RateAlgorithm algorithm, double capacity, Duration window) {
        return LimitSet.builder().add(RateLimit.of(key, capacity, window, algorithm)).build();
    }

    /** Resilience4j's default (and fastest) implementation, {@code AtomicRateLimiter}. */
    static io.github.resilience4j.ratelimiter.RateLimiter resilience4j(int perPeriod, Duration period) {
        RateLimiterConfig config = RateLimiterConfig.custom()
                .limitForPeriod(perPeriod)
                .limitRefreshPeriod(period)
                .timeoutDuration(Duration.ZERO)
                .build();
        return io.github.resilience4j.ratelimiter.RateLimiter.of("bench", config);
    }

    /** Bucket4j's default local bucket (lock-free), greedy refill. */
    static Bucket bucket4j(long capacity, Duration period) {
        return Bucket.builder()
                .addLimit(limit -> limit.capacity(capacity).refillGreedy(capacity, period))
                .build();
    }

    /** Guava's {@code SmoothBursty}. */
    static RateLimiter guava(double permitsPerSecond) {
        return RateLimiter.create(permitsPerSecond);
    }
}
