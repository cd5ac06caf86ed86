package dev.concurry.redis;

import dev.concurry.limit.LimitBackend;
import dev.concurry.tck.LimitSetTck;
import dev.concurry.time.ManualClock;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The whole TCK (SPEC L19) against a real single Redis server: the script runs on the test's
 * {@link ManualClock} (its time is passed to the script instead of the server's TIME).
 */
class RedisLimitSetTckTest extends LimitSetTck {
    @RegisterExtension
    static final LocalRedis redis = new LocalRedis();
    private final Map<ManualClock, RedisBackend> backends = new IdentityHashMap<>();

    @Override
    protected synchronized LimitBackend backend(ManualClock clock) {
        return backends.computeIfAbsent(clock, c -> RedisBackend.builder(redis.client()).clock(c).build());
    }

    @AfterEach
    synchronized void closeBackends() {
        List<RedisBackend> all = new ArrayList<>(backends.values());
        backends.clear();
        all.forEach(RedisBackend::close);
    }
}
