package dev.concurry.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.worker.TaskExecutor;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * What the application sees at start-up: beans made from properties alone and closed with the
 * context, and a clear failure for every mistake in the properties or in a {@code @Limited} method.
 * Contexts without a web server: fast.
 */
@ExtendWith(OutputCaptureExtension.class)
class StartupChecksTest {
    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(ConcurryAutoConfiguration.class, AopAutoConfiguration.class,
                    ConcurryMetricsAutoConfiguration.class, MetricsAutoConfiguration.class,
                    SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class));

    private static final String[] OPENAI = {
            "concurry.limit-sets.openai.limits[0].key=requests",
            "concurry.limit-sets.openai.limits[0].capacity=500",
            "concurry.limit-sets.openai.limits[0].window=1m",
            "concurry.limit-sets.openai.limits[1].type=resource",
            "concurry.limit-sets.openai.limits[1].key=connections",
            "concurry.limit-sets.openai.limits[1].capacity=2"};

    @Test
    @DisplayName("L8 a set, a pool and a worker pool from properties alone are beans, closed with the context")
    void beansFromPropertiesAreClosedWithTheContext() {
        AtomicReference<LimitSet> set = new AtomicReference<>();
        AtomicReference<TaskExecutor> workers = new AtomicReference<>();
        runner.withPropertyValues(OPENAI).withPropertyValues(
                "concurry.limit-sets.openai.config.region=us-east-1",
                "concurry.limit-pools.all.sets=openai",
                "concurry.workers.crawlers.mode=thread",
                "concurry.workers.crawlers.max-workers=2",
                "concurry.workers.crawlers.limits=all")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    LimitSet openai = context.getBean("openai", LimitSet.class);
                    assertThat(openai.name()).isEqualTo("openai");
                    assertThat(openai.config()).containsEntry("region", "us-east-1");
                    assertThat(openai.limits()).extracting(l -> l.key()).containsExactly("requests", "connections");
                    assertThat(context.getBean("all", LimitPool.class).sets()).containsExactly(openai);
                    TaskExecutor crawlers = context.getBean("crawlers", TaskExecutor.class);
                    assertThat(crawlers.stats().workers()).hasSize(2);
                    assertThat(crawlers.submit(limits -> limits.tryAcquire(Request.of("connections", 1))
                            .map(a -> a.config().get("region")).orElse("none")).join()).isEqualTo("us-east-1");
                    set.set(openai);
                    workers.set(crawlers);
                });
        assertThatThrownBy(() -> set.get().acquire(Request.of("requests", 1)))
                .as("the set was closed with the context").isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> workers.get().submit(() -> 1)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    @DisplayName("L4 a negative capacity fails the start naming the property")
    void aNegativeCapacityFailsTheStart() {
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.limits[0].capacity=-5")
                .run(context -> assertThat(failure(context))
                        .contains("concurry.limit-sets.openai")
                        .contains("capacity of 'requests' must be a positive finite number, got: -5.0"));
    }

    @Test
    @DisplayName("an unknown backend fails the start naming the property and the value")
    void anUnknownBackendFailsTheStart() {
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.backend=mongo")
                .run(context -> assertThat(failure(context))
                        .contains("concurry.limit-sets.openai.backend")
                        .contains("mongo"));
    }

    @Test
    @DisplayName("a misspelt property name fails the start instead of being ignored")
    void aMisspeltPropertyFailsTheStart() {
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.limits[0].capcity=5")
                .run(context -> assertThat(failure(context))
                        .contains("concurry.limit-sets.openai.limits[0].capcity"));
    }

    @Test
    @DisplayName("L4 a blank key, a rate limit without window, a duplicate key fail the start")
    void badLimitsFailTheStart() {
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.limits[0].key= ")
                .run(context -> assertThat(failure(context)).contains("key must not be blank"));
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.limits[0].window=")
                .run(context -> assertThat(failure(context)).contains("'requests' needs a 'window' such as 1m"));
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.limits[1].key=requests")
                .run(context -> assertThat(failure(context)).contains("duplicate limit key 'requests'"));
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.limits[1].capacity=1.5")
                .run(context -> assertThat(failure(context)).contains("must be a whole number of permits, got: 1.5"));
    }

    @Test
    @DisplayName("backend: hazelcast without the concurry-hazelcast module fails the start saying what is missing")
    void hazelcastWithoutTheModuleFailsTheStart() {
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.backend=hazelcast")
                .run(context -> assertThat(failure(context))
                        .contains(
                                "concurry.limit-sets.openai.backend is hazelcast, but no hazelcast backend is available")
                        .contains("dev.concurry:concurry-hazelcast")
                        .contains("HazelcastInstance bean"));
    }

    @Test
    @DisplayName("backend: redis without a Redis connection fails the start saying what is missing")
    void redisWithoutAConnectionFailsTheStart() {
        runner.withConfiguration(AutoConfigurations.of(ConcurryRedisAutoConfiguration.class))
                .withPropertyValues(OPENAI).withPropertyValues("concurry.limit-sets.openai.backend=redis")
                .run(context -> assertThat(failure(context))
                        .contains("backend is redis, but no redis backend is available")
                        .contains("spring-boot-starter-data-redis"));
    }

    @Test
    @DisplayName("a pool naming an unknown set, and one name for two things, fail the start")
    void badReferencesFailTheStart() {
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.limit-pools.all.sets=openai,anthropic")
                .run(context -> assertThat(failure(context))
                        .contains("concurry.limit-pools.all.sets names 'anthropic', but there is no LimitSet bean")
                        .contains("[openai]"));
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.workers.openai.mode=thread")
                .run(context -> assertThat(failure(context))
                        .contains("concurry.workers.openai has the name of concurry.limit-sets.openai"));
    }

    /** A bean whose {@code @Limited} method names a key the set does not have. */
    @Configuration(proxyBeanMethods = false)
    static class MisspeltKey {
        @Bean
        Service service() {
            return new Service();
        }

        static class Service {
            @Limited(set = "openai", request = "requests=1, tokenz=#size * 2")
            public void call(int size) {
            }

            @Limited(set = "anthropic", request = "requests=1")
            public void other() {
            }

            @Limited(set = "openai", request = "requests=1", timeout = "soon", fallbackMethod = "nope")
            public void third() {
            }
        }
    }

    @Test
    @DisplayName("L10 @Limited naming an unknown key or set, a bad timeout or a missing fallback fails the start")
    void misconfiguredAnnotationsFailTheStart() {
        runner.withPropertyValues(OPENAI).withUserConfiguration(MisspeltKey.class)
                .run(context -> assertThat(failure(context))
                        .contains("3 @Limited methods are misconfigured")
                        .contains(
                                "@Limited on StartupChecksTest.MisspeltKey.Service.call(int): 'openai' has no key 'tokenz'")
                        .contains("there is no LimitSet or LimitPool bean named 'anthropic'")
                        .contains("timeout \"soon\" is not a duration"));
    }

    /** A bean with a fallback of the wrong shape. */
    @Configuration(proxyBeanMethods = false)
    static class BadFallback {
        @Bean
        Service service() {
            return new Service();
        }

        static class Service {
            @Limited(set = "openai", request = "requests=1", fallbackMethod = "fallback")
            public String call(int size) {
                return "called";
            }

            String fallback(String wrong) {
                return "fallback";
            }
        }
    }

    @Test
    @DisplayName("a fallback method without the method's parameters fails the start")
    void aFallbackOfTheWrongShapeFailsTheStart() {
        runner.withPropertyValues(OPENAI).withUserConfiguration(BadFallback.class)
                .run(context -> assertThat(failure(context))
                        .contains(
                                "fallbackMethod \"fallback\" must be a method of StartupChecksTest.BadFallback.Service")
                        .contains("with the parameters (int)"));
    }

    @Test
    @DisplayName("P2 concurry.metrics.enabled=false binds no meter; by default every set is bound")
    void metersCanBeTurnedOff() {
        runner.withPropertyValues(OPENAI).run(context -> {
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            assertThat(registry.find("concurry.limit.capacity").tag("set", "openai").gauges()).hasSize(2);
        });
        runner.withPropertyValues(OPENAI).withPropertyValues("concurry.metrics.enabled=false").run(context -> {
            assertThat(context).hasNotFailed();
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            assertThat(registry.find("concurry.limit.capacity").gauges()).isEmpty();
        });
    }

    /** A plain Boot application for the failure-analysis test. */
    @Configuration(proxyBeanMethods = false)
    @EnableAutoConfiguration
    static class PlainApp {
    }

    @Test
    @DisplayName("what a developer reads when a property is wrong: Boot's failure report names it")
    void theFailureReportNamesTheProperty(CapturedOutput output) {
        SpringApplication app = new SpringApplication(PlainApp.class);
        app.setWebApplicationType(WebApplicationType.NONE);
        app.setDefaultProperties(java.util.Map.of(
                "concurry.limit-sets.openai.limits[0].key", "tokens",
                "concurry.limit-sets.openai.limits[0].capacity", "-1",
                "concurry.limit-sets.openai.limits[0].window", "1m",
                "spring.main.banner-mode", "off"));
        assertThatThrownBy(() -> app.run().close()).isNotNull();
        assertThat(output).contains("APPLICATION FAILED TO START")
                .contains("Failed to bind properties under 'concurry.limit-sets.openai")
                .contains("capacity of 'tokens' must be a positive finite number, got: -1.0");
    }

    private static String failure(org.springframework.boot.test.context.assertj.AssertableApplicationContext context) {
        assertThat(context).hasFailed();
        List<String> messages = new ArrayList<>();
        for (Throwable t = context.getStartupFailure(); t != null; t = t.getCause()) {
            messages.add(t.getMessage());
        }
        return String.join("\n", messages);
    }

}
