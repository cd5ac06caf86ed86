package dev.concurry.spring;

import com.hazelcast.core.HazelcastInstance;
import dev.concurry.hazelcast.HazelcastBackend;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The {@code hazelcast} backend of limit sets, built on the application's own {@code HazelcastInstance}
 * bean (what Boot configures from {@code hazelcast.yaml} or {@code spring.hazelcast.config}; a member or a
 * client): no second instance. A {@code HazelcastBackend} bean of the application's own takes precedence.
 * For split-brain protection (fail closed) the members' {@code Config} must be prepared with
 * {@code HazelcastBackend.configure(config)} before they start.
 *
 * <pre>{@code
 * concurry.limit-sets.openai.backend: hazelcast
 * }</pre>
 */
@AutoConfiguration(afterName = "org.springframework.boot.autoconfigure.hazelcast.HazelcastAutoConfiguration")
@ConditionalOnClass({HazelcastBackend.class, HazelcastInstance.class})
public class ConcurryHazelcastAutoConfiguration {

    /** Used by the auto-configuration only. */
    public ConcurryHazelcastAutoConfiguration() {
    }

    /** From the application's {@code HazelcastInstance}, unless it declares its own backend. */
    @Bean
    @ConditionalOnBean(HazelcastInstance.class)
    @ConditionalOnMissingBean(HazelcastBackend.class)
    HazelcastBackend concurryHazelcastBackend(HazelcastInstance hazelcast) {
        return HazelcastBackend.of(hazelcast);
    }

    /** Makes the {@code HazelcastBackend} bean the backend of every set declared with {@code backend: hazelcast}. */
    @Bean
    @ConditionalOnBean(HazelcastBackend.class)
    ConfiguredBackend concurryHazelcastConfiguredBackend(HazelcastBackend concurryHazelcastBackend) {
        return new ConfiguredBackend(BackendType.HAZELCAST, concurryHazelcastBackend);
    }
}
