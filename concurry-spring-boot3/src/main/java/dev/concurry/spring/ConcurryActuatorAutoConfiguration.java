package dev.concurry.spring;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * With Spring Boot Actuator on the class path: the {@code concurry} endpoint ({@link ConcurryEndpoint};
 * expose it with {@code management.endpoints.web.exposure.include}) and the {@code concurry} health
 * contributor (off with {@code management.health.concurry.enabled=false}).
 *
 * <pre>{@code
 * management.endpoints.web.exposure.include: health,concurry,metrics
 * }</pre>
 */
@AutoConfiguration(after = ConcurryAutoConfiguration.class)
@ConditionalOnClass({Endpoint.class, HealthIndicator.class})
public class ConcurryActuatorAutoConfiguration {

    /** Used by the auto-configuration only. */
    public ConcurryActuatorAutoConfiguration() {
    }

    /** The endpoint. */
    @Bean
    @ConditionalOnAvailableEndpoint
    @ConditionalOnMissingBean
    ConcurryEndpoint concurryEndpoint(ListableBeanFactory beans) {
        return new ConcurryEndpoint(beans);
    }

    /** The health contributor. */
    @Bean
    @ConditionalOnEnabledHealthIndicator("concurry")
    @ConditionalOnMissingBean(name = "concurryHealthIndicator")
    HealthIndicator concurryHealthIndicator(ListableBeanFactory beans) {
        return new ConcurryHealthIndicator(beans);
    }
}
