package dev.concurry.redis;

import io.lettuce.core.RedisClient;
import java.util.ArrayDeque;
import java.util.Deque;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One {@code redis-server} and one Lettuce client for a test class, started before its tests and
 * stopped after them (skips the class when no server can run, as {@link RedisServer#start} does). JUnit
 * also calls it around each {@code @Nested} class of the class (the TCK's): each gets its own server,
 * stacked on the outer one's and stopped after it, so none is left running.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final LocalRedis redis = new LocalRedis();
 * ... RedisBackend.of(redis.client()) ...
 * }</pre>
 */
final class LocalRedis implements BeforeAllCallback, AfterAllCallback {
    private record Running(RedisServer server, RedisClient client) {
    }

    private final String[] serverArgs;
    /** The innermost class's server on top. */
    private final Deque<Running> running = new ArrayDeque<>();

    LocalRedis(String... serverArgs) {
        this.serverArgs = serverArgs;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        RedisServer server = RedisServer.start(serverArgs);
        running.push(new Running(server, RedisClient.create(server.uri())));
    }

    @Override
    public void afterAll(ExtensionContext context) {
        Running done = running.poll();
        if (done != null) {
            done.client().shutdown();
            done.server().close();
        }
    }

    RedisServer server() {
        return running.element().server();
    }

    RedisClient client() {
        return running.element().client();
    }
}
