package dev.concurry.spring;

import dev.concurry.redis.RedisBackend;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * The {@code redis} backend of limit sets, built on the application's own Lettuce connection (no second
 * client): an {@code io.lettuce.core.RedisClient} or {@code RedisClusterClient} bean, else the client of
 * Spring Data's {@code LettuceConnectionFactory} (what {@code spring-boot-starter-data-redis} configures
 * from {@code spring.data.redis.*}). A {@code RedisBackend} bean of the application's own takes
 * precedence.
 *
 * <pre>{@code
 * spring.data.redis.url: redis://10.0.0.5:6379
 * concurry.limit-sets.openai.backend: redis
 * }</pre>
 */
@AutoConfiguration(afterName = "org.springframework.boot.autoconfigure.data.redis.RedisAutoConfiguration")
@ConditionalOnClass({RedisBackend.class, RedisClient.class})
public class ConcurryRedisAutoConfiguration {

    /** Used by the auto-configuration only. */
    public ConcurryRedisAutoConfiguration() {
    }

    /** Makes the {@code RedisBackend} bean the backend of every set declared with {@code backend: redis}. */
    @Bean
    @ConditionalOnBean(RedisBackend.class)
    ConfiguredBackend concurryRedisConfiguredBackend(RedisBackend concurryRedisBackend) {
        return new ConfiguredBackend(BackendType.REDIS, concurryRedisBackend);
    }

    /** From a Lettuce client bean of the application. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(RedisBackend.class)
    static class FromLettuceClient {

        @Bean
        @ConditionalOnBean(RedisClient.class)
        RedisBackend concurryRedisBackend(RedisClient client) {
            return RedisBackend.of(client);
        }

        @Bean
        @ConditionalOnBean(RedisClusterClient.class)
        @ConditionalOnMissingBean({RedisClient.class, RedisBackend.class})
        RedisBackend concurryRedisClusterBackend(RedisClusterClient client) {
            return RedisBackend.of(client);
        }
    }

    /** From Spring Data Redis's Lettuce connection factory, when there is no client bean. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(LettuceConnectionFactory.class)
    @ConditionalOnBean(LettuceConnectionFactory.class)
    @ConditionalOnMissingBean({RedisBackend.class, RedisClient.class, RedisClusterClient.class})
    static class FromSpringDataRedis {

        @Bean
        RedisBackend concurryRedisBackend(LettuceConnectionFactory factory) {
            AbstractRedisClient client = factory.getRequiredNativeClient();
            return switch (client) {
                case RedisClient single -> RedisBackend.of(single);
                case RedisClusterClient cluster -> RedisBackend.of(cluster);
                default -> throw new IllegalStateException("unexpected Lettuce client " + client.getClass().getName());
            };
        }
    }
}
