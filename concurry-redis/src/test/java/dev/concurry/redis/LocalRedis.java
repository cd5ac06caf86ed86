package dev.concurry.redis;

import io.lettuce.core.RedisClient;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One {@code redis-server} and one Lettuce client for a test class, started before its tests and
 * stopped after them (skips the class when no server can run, as {@link RedisServer#start} does).
 *
 * <pre>{@code
 * @RegisterExtension
 * static final LocalRedis redis = new LocalRedis();
 * ... RedisBackend.of(redis.client()) ...
 * }</pre>
 */
final class LocalRedis implements BeforeAllCallback, AfterAllCallback {
    private final String[] serverArgs;
    private RedisServer server;
    private RedisClient client;

    LocalRedis(String... serverArgs) {
        this.serverArgs = serverArgs;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        server = RedisServer.start(serverArgs);
        client = RedisClient.create(server.uri());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (client != null) {
            client.shutdown();
        }
        if (server != null) {
            server.close();
        }
    }

    RedisServer server() {
        return server;
    }

    RedisClient client() {
        return client;
    }
}
