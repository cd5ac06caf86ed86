package dev.concurry.spring;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Request;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.springframework.aop.support.AopUtils;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.core.MethodClassKey;
import org.springframework.core.MethodIntrospector;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.core.annotation.AnnotationUtils;
import org.springframework.util.ClassUtils;

/**
 * Runs {@link Limited @Limited} methods: evaluates the request, acquires it (blocking, with a timeout,
 * or failing fast), hands the acquisition to the method and closes it when the method returns or
 * throws, or when its {@code CompletionStage} completes. Waiting blocks the calling thread, as the
 * core's {@code acquire} does; a virtual thread waits without holding a platform thread.
 *
 * <p>After every singleton is created it checks every {@code @Limited} method of every bean, so a
 * mistake (an unknown set or key, a bad expression or timeout, a missing fallback) fails the start
 * rather than the first call.
 */
final class LimitedInterceptor implements MethodInterceptor, SmartInitializingSingleton {
    private final ConfigurableListableBeanFactory beans;
    private final Supplier<Duration> defaultTimeout;
    private final Map<MethodClassKey, LimitedMethod> methods = new ConcurrentHashMap<>();

    LimitedInterceptor(ConfigurableListableBeanFactory beans, Supplier<Duration> defaultTimeout) {
        this.beans = beans;
        this.defaultTimeout = defaultTimeout;
    }

    @Override
    public Object invoke(MethodInvocation invocation) throws Throwable {
        Object target = invocation.getThis();
        Class<?> targetClass = ClassUtils.getUserClass(target != null
                ? AopUtils.getTargetClass(target)
                : invocation.getMethod().getDeclaringClass());
        LimitedMethod limited = describe(AopUtils.getMostSpecificMethod(invocation.getMethod(), targetClass),
                targetClass, invocation.getMethod());
        Object[] args = invocation.getArguments();
        Request request = limited.request(target, args);
        Acquisition acquisition;
        try {
            acquisition = acquire(limited, request);
        } catch (LimitRejectedException rejected) {
            if (limited.hasFallback()) {
                return limited.fallback(target, args, rejected);
            }
            if (limited.returnsStage()) {
                return CompletableFuture.failedFuture(rejected);
            }
            throw rejected;
        }
        if (limited.acquisitionParameter() >= 0) {
            args[limited.acquisitionParameter()] = acquisition;   // the invocation's own array, by contract
        }
        boolean settlesLater = false;
        ConcurryContext.push(acquisition);
        try {
            Object result = invocation.proceed();
            if (result instanceof CompletionStage<?> stage) {
                // The caller keeps the stage the method returned (its type, its cancellation); the
                // limits are held until it completes, however it completes.
                stage.whenComplete((value, failure) -> acquisition.close());
                settlesLater = true;
            }
            return result;
        } finally {
            ConcurryContext.pop();
            if (!settlesLater) {
                acquisition.close();
            }
        }
    }

    private static Acquisition acquire(LimitedMethod limited, Request request) {
        Duration timeout = limited.timeout();
        if (timeout == null) {
            return limited.limiter().acquire(request);
        }
        if (timeout.isZero()) {
            return switch (limited.limiter().attempt(request)) {
                case Attempt.Granted granted -> granted.acquisition();
                case Attempt.Refused refused -> throw new LimitRejectedException(limited.limiterName(), request,
                        timeout, refused.refusal(), null);
            };
        }
        try {
            return limited.limiter().acquire(request, timeout);
        } catch (AcquireTimeoutException e) {
            throw new LimitRejectedException(limited.limiterName(), request, timeout, e.refusal().orElse(null), e);
        }
    }

    private LimitedMethod describe(Method method, Class<?> targetClass, Method declared) {
        return methods.computeIfAbsent(new MethodClassKey(method, targetClass), key -> {
            Limited limited = AnnotatedElementUtils.findMergedAnnotation(method, Limited.class);
            if (limited == null) {
                limited = AnnotatedElementUtils.findMergedAnnotation(declared, Limited.class);
            }
            return LimitedMethod.of(method, targetClass, limited, defaultTimeout.get(), beans);
        });
    }

    /** Checks every {@code @Limited} method of every bean once all singletons exist (the limiters among them). */
    @Override
    public void afterSingletonsInstantiated() {
        List<String> problems = new ArrayList<>();
        for (String name : beans.getBeanDefinitionNames()) {
            Class<?> type = beans.getType(name, false);
            if (type == null) {
                continue;
            }
            Class<?> userClass = ClassUtils.getUserClass(type);
            if (!AnnotationUtils.isCandidateClass(userClass, Limited.class)) {
                continue;
            }
            Map<Method, Limited> annotated = MethodIntrospector.selectMethods(userClass,
                    (MethodIntrospector.MetadataLookup<Limited>) m -> AnnotatedElementUtils.findMergedAnnotation(m,
                            Limited.class));
            for (Method method : annotated.keySet()) {
                try {
                    describe(method, userClass, method);
                } catch (RuntimeException e) {
                    problems.add(e.getMessage());
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException(problems.size() == 1
                    ? problems.getFirst()
                    : problems.size() + " @Limited methods are misconfigured:\n  - " + String.join("\n  - ", problems));
        }
    }
}
