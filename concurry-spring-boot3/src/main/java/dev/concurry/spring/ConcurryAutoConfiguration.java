package dev.concurry.spring;

import org.springframework.aop.config.AopConfigUtils;
import org.springframework.aop.support.DefaultPointcutAdvisor;
import org.springframework.aop.support.annotation.AnnotationMatchingPointcut;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.ImportBeanDefinitionRegistrar;
import org.springframework.context.annotation.Role;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotationMetadata;

/**
 * Registers the limit sets, limit pools and worker pools declared under {@code concurry.*} as beans,
 * and makes {@link Limited @Limited} methods acquire their limits.
 *
 * <pre>{@code
 * concurry.limit-sets.openai.limits:
 *   - { type: rate, key: requests, capacity: 500, window: 1m }
 *   - { type: rate, key: tokens, capacity: 10000, window: 1m }
 * }</pre>
 *
 * <p>Listed in {@code META-INF/spring/org.springframework.boot.autoconfigure.AutoConfiguration.imports}:
 * adding the module is all it takes.
 */
@AutoConfiguration
@EnableConfigurationProperties(ConcurryProperties.class)
@Import(ConcurryBeanRegistrar.class)
public class ConcurryAutoConfiguration {

    /** Used by the auto-configuration only. */
    public ConcurryAutoConfiguration() {
    }

    /** The {@code @Limited} interceptor, applied by Spring's auto-proxying (as {@code @Transactional} is). */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "org.aopalliance.intercept.MethodInterceptor")
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    @Import(LimitedConfiguration.AutoProxying.class)
    static class LimitedConfiguration {

        @Bean
        @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
        static LimitedInterceptor concurryLimitedInterceptor(ConfigurableListableBeanFactory beans,
                ObjectProvider<ConcurryProperties> properties) {
            return new LimitedInterceptor(beans, () -> properties.getObject().limited().defaultTimeout());
        }

        @Bean
        @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
        static DefaultPointcutAdvisor concurryLimitedAdvisor(LimitedInterceptor concurryLimitedInterceptor,
                Environment environment) {
            DefaultPointcutAdvisor advisor = new DefaultPointcutAdvisor(
                    new AnnotationMatchingPointcut(null, Limited.class, true), concurryLimitedInterceptor);
            advisor.setOrder(environment.getProperty("concurry.limited.order", Integer.class, 0));
            return advisor;
        }

        /** Makes sure some auto-proxy creator exists, also when Boot's AOP auto-configuration is off. */
        static class AutoProxying implements ImportBeanDefinitionRegistrar {
            @Override
            public void registerBeanDefinitions(AnnotationMetadata metadata, BeanDefinitionRegistry registry) {
                AopConfigUtils.registerAutoProxyCreatorIfNecessary(registry);
            }
        }
    }
}
