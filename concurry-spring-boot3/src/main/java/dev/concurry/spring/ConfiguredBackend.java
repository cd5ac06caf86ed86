package dev.concurry.spring;

import dev.concurry.limit.LimitBackend;
import java.util.Objects;

/**
 * A distributed backend made available to the limit sets declared with {@code backend: <type>}. An
 * integration's auto-configuration contributes one bean per backend it can build from the application's
 * own clients: {@code ConcurryRedisAutoConfiguration} wraps the {@code RedisBackend} bean, which it
 * builds from the application's Lettuce connection unless the application declares its own:
 *
 * <pre>{@code
 * @Bean
 * RedisBackend redisLimits(RedisClient redis) {            // other options than the defaults
 *     return RedisBackend.builder(redis).failOpen(true).build();
 * }
 * }</pre>
 *
 * <p>The backend's own bean owns it (and closes it); the sets built on it are closed before it.
 *
 * @param type    the {@code backend:} value it serves; a distributed one
 * @param backend the backend
 */
public record ConfiguredBackend(BackendType type, LimitBackend backend) {

    /** Checks that the type is a distributed one: in-memory and shared-memory need no bean. */
    public ConfiguredBackend {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(backend, "backend");
        if (!type.distributed()) {
            throw new IllegalArgumentException(type.id() + " is built in; only distributed backends are configured");
        }
    }

}
