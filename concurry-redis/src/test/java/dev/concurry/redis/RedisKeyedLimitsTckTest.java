package dev.concurry.redis;

import dev.concurry.limit.LimitBackend;
import dev.concurry.tck.KeyedLimitsTck;
import dev.concurry.time.ManualClock;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The keyed TCK (SPEC L24) against a real single Redis redis.server(), through the default
 * {@code LimitBackend.openFamily}: each key is a set of its own in Redis (one hash per key under the
 * family's name, expiring when idle), opened when the key is first used and closed when it is dropped.
 * Each test has its own key prefix: families of several tests share names and keys.
 */
class RedisKeyedLimitsTckTest extends KeyedLimitsTck {
    @RegisterExtension
    static final LocalRedis redis = new LocalRedis();
    private static final AtomicLong RUNS = new AtomicLong();
    private final Map<ManualClock, RedisBackend> backends = new IdentityHashMap<>();

    @Override
    protected synchronized LimitBackend backend(ManualClock clock) {
        return backends.computeIfAbsent(clock, c -> RedisBackend.builder(redis.client()).clock(c)
                .keyPrefix("keyed-tck-" + RUNS.incrementAndGet() + ":").build());
    }

    @AfterEach
    synchronized void closeBackends() {
        List<RedisBackend> all = new ArrayList<>(backends.values());
        backends.clear();
        all.forEach(RedisBackend::close);
    }
}
