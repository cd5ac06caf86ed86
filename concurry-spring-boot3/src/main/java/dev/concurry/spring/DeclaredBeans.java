package dev.concurry.spring;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;
import dev.concurry.spring.ConcurryProperties.LimitPoolProperties;
import dev.concurry.spring.ConcurryProperties.LimitSetProperties;
import dev.concurry.spring.ConcurryProperties.WorkerPoolProperties;
import dev.concurry.worker.TaskExecutor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.springframework.beans.factory.BeanNotOfRequiredTypeException;
import org.springframework.beans.factory.NoSuchBeanDefinitionException;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;

/**
 * Builds the beans declared under {@code concurry.*}, each on first use by the bean factory. Beans a
 * declared bean uses (its backend, the sets of a pool, the limits of a worker pool) are registered as
 * its dependencies, so the context closes it before them.
 */
final class DeclaredBeans {
    private final ConfigurableListableBeanFactory beans;

    DeclaredBeans(ConfigurableListableBeanFactory beans) {
        this.beans = beans;
    }

    LimitSet limitSet(String beanName, LimitSetProperties p) {
        LimitBackend backend = switch (p.backend()) {
            case IN_MEMORY -> Backends.inMemory();
            case SHARED_MEMORY -> p.file() != null ? Backends.sharedMemory(Path.of(p.file())) : Backends.sharedMemory();
            case REDIS, HAZELCAST -> configuredBackend(beanName, p.backend());
        };
        return LimitSet.builder()
                .name(p.name() != null ? p.name() : beanName)
                .config(p.config())
                .addAll(p.toLimits())
                .backend(backend)
                .build();
    }

    LimitPool limitPool(String beanName, LimitPoolProperties p) {
        List<LimitSet> sets = new ArrayList<>();
        for (String set : p.sets()) {
            sets.add(use(beanName, set, LimitSet.class, "concurry.limit-pools." + beanName + ".sets"));
        }
        return LimitPool.builder().addAll(sets).balancing(p.balancing()).build();
    }

    TaskExecutor workerPool(String beanName, WorkerPoolProperties p) {
        TaskExecutor.Options options = TaskExecutor.options().name(beanName);
        if (p.mode() != null) {
            options.mode(p.mode());
        }
        if (p.maxWorkers() != null) {
            options.maxWorkers(p.maxWorkers());
        }
        if (p.loadBalancing() != null) {
            options.loadBalancing(p.loadBalancing());
        }
        if (p.maxQueuedTasks() != null) {
            options.maxQueuedTasks(p.maxQueuedTasks());
        }
        if (p.limits() != null) {
            options.limits(use(beanName, p.limits(), Limiter.class, "concurry.workers." + beanName + ".limits"));
        }
        return options.init();
    }

    /**
     * The backend bean serving {@code type}. This is where a distributed backend is wired: an
     * auto-configuration contributes a {@link ConfiguredBackend} bean for its type (see
     * {@code ConcurryRedisAutoConfiguration}); without one the start fails with what to add.
     */
    private LimitBackend configuredBackend(String setName, BackendType type) {
        for (String name : beans.getBeanNamesForType(ConfiguredBackend.class)) {
            ConfiguredBackend candidate = beans.getBean(name, ConfiguredBackend.class);
            if (candidate.type() == type) {
                beans.registerDependentBean(name, setName);
                return candidate.backend();
            }
        }
        throw new IllegalStateException("concurry.limit-sets." + setName + ".backend is " + type.id()
                + ", but no " + type.id() + " backend is available: " + missing(type));
    }

    private static String missing(BackendType type) {
        return switch (type) {
            case REDIS -> "add dev.concurry:concurry-redis to the class path and give the application a Lettuce"
                    + " connection (spring-boot-starter-data-redis with spring.data.redis.* properties, or an"
                    + " io.lettuce.core.RedisClient bean), or declare a ConfiguredBackend bean";
            case HAZELCAST -> "it needs the dev.concurry:concurry-hazelcast module (HazelcastBackend) on the class"
                    + " path and a com.hazelcast.core.HazelcastInstance bean (Boot builds one from hazelcast.yaml or"
                    + " spring.hazelcast.config); the module is missing or there is no HazelcastInstance bean";
            case IN_MEMORY, SHARED_MEMORY -> throw new AssertionError(type);
        };
    }

    /** The bean {@code name} of {@code type}, used by {@code user}; a clear failure if there is none. */
    private <T> T use(String user, String name, Class<T> type, String property) {
        try {
            T bean = beans.getBean(name, type);
            beans.registerDependentBean(name, user);
            return bean;
        } catch (NoSuchBeanDefinitionException | BeanNotOfRequiredTypeException e) {
            throw new IllegalStateException(property + " names '" + name + "', but there is no "
                    + type.getSimpleName() + " bean of that name; declared here: " + declared(type), e);
        }
    }

    private List<String> declared(Class<?> type) {
        return List.of(beans.getBeanNamesForType(type, false, false));
    }
}
