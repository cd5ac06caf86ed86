package dev.concurry.spring;

import dev.concurry.micrometer.ConcurryMetrics;
import dev.concurry.worker.TaskExecutor;
import dev.concurry.worker.WorkerPool;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;

/**
 * Binds the meters of every limit set, limit pool, worker pool and task executor bean (those declared
 * under {@code concurry.*} and the application's own) to the application's {@code MeterRegistry}, with
 * {@code dev.concurry:concurry-micrometer} on the class path. Off with {@code concurry.metrics.enabled=false}.
 *
 * <pre>{@code
 * $ curl 'localhost:8080/actuator/metrics/concurry.limit.in.use?tag=set:openai&tag=key:tokens'
 * }</pre>
 *
 * <p>The binder is a {@link MeterBinder} bean, which Boot's metrics auto-configuration applies to
 * its registries once every singleton exists. Pool-wide meters are tagged {@code pool=<bean name>}.
 */
@AutoConfiguration(after = ConcurryAutoConfiguration.class)
@ConditionalOnClass({ConcurryMetrics.class, MeterRegistry.class})
@ConditionalOnProperty(prefix = "concurry.metrics", name = "enabled", havingValue = "true", matchIfMissing = true)
public class ConcurryMetricsAutoConfiguration {

    /** Used by the auto-configuration only. */
    public ConcurryMetricsAutoConfiguration() {
    }

    /** Binds each limiter bean when the registry asks. */
    @Bean
    MeterBinder concurryMeterBinder(ListableBeanFactory beans) {
        ContextLimiters limiters = new ContextLimiters(beans);
        return registry -> {
            limiters.sets().values().forEach(set -> ConcurryMetrics.of(set).bindTo(registry));
            limiters.pools().forEach((name, pool) -> ConcurryMetrics.of(pool).poolName(name).bindTo(registry));
            beans.getBeansOfType(TaskExecutor.class).values()
                    .forEach(executor -> ConcurryMetrics.of(executor).bindTo(registry));
            for (Object pool : beans.getBeansOfType(WorkerPool.class).values()) {
                ConcurryMetrics.of((WorkerPool<?>) pool).bindTo(registry);
            }
        };
    }
}
