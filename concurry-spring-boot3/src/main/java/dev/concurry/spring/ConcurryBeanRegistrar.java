package dev.concurry.spring;

import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.worker.TaskExecutor;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.beans.factory.support.RootBeanDefinition;
import org.springframework.boot.context.properties.bind.BindHandler;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.handler.NoUnboundElementsBindHandler;
import org.springframework.context.EnvironmentAware;
import org.springframework.context.annotation.ImportBeanDefinitionRegistrar;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotationMetadata;

/**
 * Registers one bean per limit set, limit pool and worker pool declared under {@code concurry.*}, named
 * as declared, so that they can be injected ({@code @Qualifier("openai") LimitSet openai}) and named by
 * {@link Limited @Limited}. The properties are bound here, before any bean exists, because the bean
 * names come from them; a binding error (an unknown property, a negative capacity, an unknown backend)
 * therefore fails the start before anything is created.
 */
final class ConcurryBeanRegistrar implements ImportBeanDefinitionRegistrar, EnvironmentAware, BeanFactoryAware {
    private Environment environment;
    private ConfigurableListableBeanFactory beanFactory;

    @Override
    public void setEnvironment(Environment environment) {
        this.environment = environment;
    }

    @Override
    public void setBeanFactory(BeanFactory beanFactory) {
        this.beanFactory = (ConfigurableListableBeanFactory) beanFactory;
    }

    /** Binds {@code concurry.*} as the application's own {@code ConcurryProperties} bean will be bound. */
    static ConcurryProperties bind(Environment environment) {
        return Binder.get(environment).bindOrCreate("concurry", Bindable.of(ConcurryProperties.class),
                new NoUnboundElementsBindHandler(BindHandler.DEFAULT));
    }

    @Override
    public void registerBeanDefinitions(AnnotationMetadata metadata, BeanDefinitionRegistry registry) {
        ConcurryProperties properties = bind(environment);
        DeclaredBeans declared = new DeclaredBeans(beanFactory);
        Map<String, String> declaredAs = new HashMap<>();
        properties.limitSets().forEach((name, p) -> register(registry, declaredAs, "concurry.limit-sets", name,
                LimitSet.class, () -> declared.limitSet(name, p), true));
        properties.limitPools().forEach((name, p) -> register(registry, declaredAs, "concurry.limit-pools", name,
                LimitPool.class, () -> declared.limitPool(name, p), false));
        properties.workers().forEach((name, p) -> register(registry, declaredAs, "concurry.workers", name,
                TaskExecutor.class, () -> declared.workerPool(name, p), true));
    }

    private static <T> void register(BeanDefinitionRegistry registry, Map<String, String> declaredAs, String prefix,
            String name, Class<T> type, Supplier<T> create, boolean closeable) {
        String earlier = declaredAs.putIfAbsent(name, prefix);
        if (earlier != null) {
            throw new IllegalStateException(prefix + "." + name + " has the name of " + earlier + "." + name
                    + ": each becomes a bean of that name, so names must differ across sets, pools and workers");
        }
        if (registry.containsBeanDefinition(name)) {
            throw new IllegalStateException(prefix + "." + name + " becomes a bean named '" + name
                    + "', but the application already has a bean of that name; rename one of them");
        }
        RootBeanDefinition definition = new RootBeanDefinition(type, create);
        if (closeable) {
            definition.setDestroyMethodName("close");
        }
        registry.registerBeanDefinition(name, definition);
    }
}
