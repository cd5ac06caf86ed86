package dev.concurry.worker;

import dev.concurry.limit.Limit;
import dev.concurry.limit.Limiter;
import dev.concurry.retry.RetryPolicy;
import dev.concurry.time.MonotonicClock;
import java.time.Duration;
import java.util.List;

/**
 * The options of one pool, as read by the machinery. {@code limiter} is null when specs (or nothing) were
 * given; {@code cluster} is null unless the mode is {@link Mode#CLUSTER}; {@code callTimeout} is
 * {@link Duration#ZERO} for none.
 */
record PoolConfig(String name, Mode mode, int maxWorkers, LoadBalancing loadBalancing, boolean onDemand,
        int maxQueuedTasks, boolean blockWhenFull, Limiter limiter, List<Limit> specs, boolean sharedLimits,
        Duration closeTimeout, boolean cancelQueuedOnClose, RetryPolicy<?> retry, MonotonicClock clock,
        List<String> jvmOptions, String serializationFilter, WorkerCluster cluster, Duration callTimeout) {

    boolean bounded() {
        return maxQueuedTasks != Integer.MAX_VALUE;
    }
}
