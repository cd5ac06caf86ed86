package dev.concurry.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.tck.LimitSetTck;
import dev.concurry.time.ManualClock;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole TCK (SPEC L18, L19) against a real 3-node Redis Cluster: every key of a set shares the
 * hash tag {@code {name}}, so each set's script runs on the node owning that slot.
 */
class RedisClusterLimitSetTckTest extends LimitSetTck {
    private static RedisClusterServers cluster;
    private static RedisClusterClient client;
    private final Map<ManualClock, RedisBackend> backends = new IdentityHashMap<>();

    @BeforeAll
    static void startCluster() {
        RedisServer.binary();   // skips (assumption) when no redis-server can run
        cluster = RedisClusterServers.start();
        client = cluster.client();
    }

    @AfterAll
    static void stopCluster() {
        if (client != null) {
            client.shutdown();
        }
        if (cluster != null) {
            cluster.close();
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

    @Test
    void L18_sets_spread_over_the_nodes_and_each_runs_in_one_slot() {
        Set<Integer> nodes = new HashSet<>();
        try (RedisBackend backend = RedisBackend.of(client)) {
            for (int i = 0; i < 12; i++) {
                String name = "spread-" + i;
                try (LimitSet set = LimitSet.builder().name(name)
                        .add(RateLimit.of("requests", 2, Duration.ofMinutes(1)))
                        .backend(backend).build()) {
                    assertThat(set.tryAcquire(Request.of("requests", 2))).isPresent();
                    assertThat(set.tryAcquire(Request.of("requests", 1))).isEmpty();
                }
                nodes.add(SlotHash.getSlot("concurry:{" + name + "}") * 3 / 16384);
            }
        }
        assertThat(nodes).as("the sets used every node").hasSize(3);
    }
}
