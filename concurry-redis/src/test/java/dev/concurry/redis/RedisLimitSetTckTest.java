package dev.concurry.redis;

import dev.concurry.limit.LimitBackend;
import dev.concurry.tck.LimitSetTck;
import dev.concurry.time.ManualClock;
import io.lettuce.core.RedisClient;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The whole TCK (SPEC L19) against a real single Redis server: the script runs on the test's
 * {@link ManualClock} (its time is passed to the script instead of the server's TIME).
 */
class RedisLimitSetTckTest extends LimitSetTck {
    private static RedisServer server;
    private static RedisClient client;
    private final Map<ManualClock, RedisBackend> backends = new IdentityHashMap<>();

    @BeforeAll
    static void startRedis() {
        server = RedisServer.start();
        client = RedisClient.create(server.uri());
    }

    @AfterAll
    static void stopRedis() {
        if (client != null) {
            client.shutdown();
        }
        if (server != null) {
            server.close();
        }
    }

    @Override
    protected synchronized LimitBackend backend(ManualClock clock) {
        return backends.computeIfAbsent(clock, c -> RedisBackend.builder(client).clock(c).build());
    }

    @AfterEach
    synchronized void closeBackends() {
        List<RedisBackend> all = new ArrayList<>(backends.values());
        backends.clear();
        all.forEach(RedisBackend::close);
    }
}
