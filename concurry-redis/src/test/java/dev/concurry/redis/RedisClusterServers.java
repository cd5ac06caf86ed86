package dev.concurry.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * A real 3-node Redis Cluster for tests: three {@code redis-server --cluster-enabled yes} processes
 * on free loopback ports, slots split in three, joined with CLUSTER MEET (no redis-cli needed).
 */
final class RedisClusterServers implements AutoCloseable {
    private final List<RedisServer> nodes = new ArrayList<>();

    static RedisClusterServers start() {
        RedisClusterServers cluster = new RedisClusterServers();
        try {
            for (int i = 0; i < 3; i++) {
                cluster.nodes.add(RedisServer.start("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", "5000"));
            }
            cluster.form();
            return cluster;
        } catch (RuntimeException | Error e) {
            cluster.close();
            throw e;
        }
    }

    private void form() {
        RedisClient admin = RedisClient.create();
        try {
            List<StatefulRedisConnection<String, String>> connections = new ArrayList<>();
            for (RedisServer node : nodes) {
                connections.add(admin.connect(RedisURI.create(node.uri())));
            }
            int[][] ranges = {{0, 5460}, {5461, 10922}, {10923, 16383}};
            for (int i = 0; i < 3; i++) {
                connections.get(i).sync().clusterAddSlots(IntStream.rangeClosed(ranges[i][0], ranges[i][1]).toArray());
            }
            for (int i = 1; i < 3; i++) {
                connections.get(0).sync().clusterMeet("127.0.0.1", nodes.get(i).port);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            for (StatefulRedisConnection<String, String> c : connections) {
                while (!(c.sync().clusterInfo().contains("cluster_state:ok")
                        && c.sync().clusterNodes().lines().count() == 3)) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the test cluster did not form: " + c.sync().clusterInfo());
                    }
                    Thread.sleep(50);
                }
            }
            connections.forEach(StatefulRedisConnection::close);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            admin.shutdown();
        }
    }

    RedisClusterClient client() {
        List<RedisURI> uris = new ArrayList<>();
        nodes.forEach(n -> uris.add(RedisURI.create(n.uri())));
        return RedisClusterClient.create(uris);
    }

    @Override
    public void close() {
        nodes.forEach(RedisServer::close);
    }
}
