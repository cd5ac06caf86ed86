package dev.concurry.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.redis.RedisBackend;
import io.lettuce.core.RedisClient;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Which Redis backend limit sets get: built on the application's own Lettuce client, or the
 * application's own {@code RedisBackend}. No server needed: nothing connects until a set is built.
 */
class RedisWiringTest {
    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(
                    AutoConfigurations.of(ConcurryRedisAutoConfiguration.class, ConcurryAutoConfiguration.class));

    @Configuration(proxyBeanMethods = false)
    static class AppClient {
        @Bean(destroyMethod = "shutdown")
        RedisClient redisClient() {
            return RedisClient.create("redis://127.0.0.1:1");
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class AppBackend extends AppClient {
        @Bean
        RedisBackend myLimits(RedisClient redisClient) {
            return RedisBackend.builder(redisClient).keyPrefix("app:").build();
        }
    }

    @Test
    @DisplayName("L18 the application's RedisClient bean becomes the backend of backend: redis sets")
    void theApplicationsClientIsUsed() {
        runner.withUserConfiguration(AppClient.class).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBeanNamesForType(RedisBackend.class)).containsExactly("concurryRedisBackend");
            ConfiguredBackend configured = context.getBean(ConfiguredBackend.class);
            assertThat(configured.type()).isEqualTo(BackendType.REDIS);
            assertThat(configured.backend()).isSameAs(context.getBean(RedisBackend.class));
        });
    }

    @Test
    @DisplayName("an application's own RedisBackend bean takes precedence over the one built from its client")
    void theApplicationsOwnBackendWins() {
        runner.withUserConfiguration(AppBackend.class).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBeanNamesForType(RedisBackend.class)).containsExactly("myLimits");
            assertThat(context.getBean(ConfiguredBackend.class).backend()).isSameAs(context.getBean("myLimits"));
        });
    }

    @Test
    @DisplayName("without a Redis client there is no Redis backend (and backend: redis fails the start, see StartupChecksTest)")
    void noClientNoBackend() {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBeansOfType(RedisBackend.class)).isEmpty();
            assertThat(context.getBeansOfType(ConfiguredBackend.class)).isEmpty();
        });
    }
}
