package dev.concurry.spring;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.Request;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.springframework.beans.factory.BeanNotOfRequiredTypeException;
import org.springframework.beans.factory.NoSuchBeanDefinitionException;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.context.expression.BeanFactoryResolver;
import org.springframework.context.expression.MethodBasedEvaluationContext;
import org.springframework.core.DefaultParameterNameDiscoverer;
import org.springframework.core.ParameterNameDiscoverer;
import org.springframework.expression.EvaluationContext;
import org.springframework.expression.Expression;
import org.springframework.expression.ExpressionException;
import org.springframework.expression.spel.standard.SpelExpressionParser;
import org.springframework.util.ClassUtils;
import org.springframework.util.ReflectionUtils;

/**
 * One {@link Limited @Limited} method, parsed and checked once: the limiter it uses, its amounts
 * (constants, or SpEL expressions evaluated per call), its timeout, its fallback and where its
 * {@link Acquisition} parameter is.
 */
final class LimitedMethod {
    private static final SpelExpressionParser PARSER = new SpelExpressionParser();
    private static final ParameterNameDiscoverer PARAMETER_NAMES = new DefaultParameterNameDiscoverer();
    /** {@code #name(} in an expression: a call of a function, which here is a method of the bean. */
    private static final Pattern FUNCTION_CALL = Pattern.compile("#([A-Za-z_$][A-Za-z0-9_$]*)\\s*\\(");

    private final Method method;
    private final String where;
    private final String limiterName;
    private final Limiter limiter;
    private final List<Amount> amounts;
    /** The whole request when every amount is a constant (built once), else null. */
    private final Request constantRequest;
    private final Map<String, BeanFunction> functions;
    /** Null: wait until granted; zero: fail fast. */
    private final Duration timeout;
    private final Method fallback;
    private final boolean fallbackTakesRejection;
    private final int acquisitionParameter;
    private final boolean returnsStage;
    private final ConfigurableListableBeanFactory beans;

    /** One {@code key=amount} of the request: a constant, or an expression when {@code expression != null}. */
    private record Amount(String key, String text, double constant, Expression expression) {
    }

    /** A method of the bean callable from the expressions as {@code #name(..)}. */
    private record BeanFunction(MethodHandle handle, boolean isStatic) {
    }

    private LimitedMethod(Method method, Class<?> targetClass, Limited limited, Duration defaultTimeout,
            ConfigurableListableBeanFactory beans) {
        this.method = method;
        this.beans = beans;
        this.where = "@Limited on " + ClassUtils.getShortName(targetClass) + "." + method.getName()
                + Arrays.stream(method.getParameterTypes()).map(Class::getSimpleName)
                        .collect(Collectors.joining(", ", "(", ")"));
        this.limiterName = beans.resolveEmbeddedValue(limited.set());
        this.limiter = limiter(limiterName);
        this.amounts = parseRequest(beans.resolveEmbeddedValue(limited.request()));
        checkKeys();
        this.constantRequest = amounts.stream().allMatch(a -> a.expression() == null) ? build(null) : null;
        this.functions = functions(targetClass);
        this.timeout = parseTimeout(beans.resolveEmbeddedValue(limited.timeout()), defaultTimeout);
        this.returnsStage = CompletionStage.class.isAssignableFrom(method.getReturnType());
        this.acquisitionParameter = acquisitionParameter(method);
        this.fallback = fallback(targetClass, limited.fallbackMethod());
        this.fallbackTakesRejection = fallback != null
                && fallback.getParameterCount() == method.getParameterCount() + 1;
    }

    /**
     * Parses and checks the annotation of {@code method} on a bean of {@code targetClass}.
     *
     * @throws IllegalStateException naming the method and what is wrong
     */
    static LimitedMethod of(Method method, Class<?> targetClass, Limited limited, Duration defaultTimeout,
            ConfigurableListableBeanFactory beans) {
        return new LimitedMethod(method, targetClass, limited, defaultTimeout, beans);
    }

    String limiterName() {
        return limiterName;
    }

    Limiter limiter() {
        return limiter;
    }

    /** Null: wait until granted; zero: fail fast. */
    Duration timeout() {
        return timeout;
    }

    boolean returnsStage() {
        return returnsStage;
    }

    /** The index of the {@code Acquisition} parameter, or -1. */
    int acquisitionParameter() {
        return acquisitionParameter;
    }

    /** Evaluates the request for one call. */
    Request request(Object target, Object[] args) {
        if (constantRequest != null) {
            return constantRequest;
        }
        MethodBasedEvaluationContext context = new MethodBasedEvaluationContext(target, method, args, PARAMETER_NAMES);
        context.setBeanResolver(new BeanFactoryResolver(beans));
        functions.forEach(
                (name, f) -> context.registerFunction(name, f.isStatic() ? f.handle() : f.handle().bindTo(target)));
        return build(context);
    }

    private Request build(EvaluationContext context) {
        Map<String, Double> values = new LinkedHashMap<>();
        for (Amount amount : amounts) {
            double value = amount.constant();
            if (amount.expression() != null) {
                Object result;
                try {
                    result = amount.expression().getValue(context);
                } catch (ExpressionException e) {
                    throw new IllegalArgumentException(where + ": " + amount.key() + "=" + amount.text()
                            + " failed: " + e.getMessage(), e);
                }
                if (!(result instanceof Number number)) {
                    throw new IllegalArgumentException(where + ": " + amount.key() + "=" + amount.text()
                            + " gave " + result + ", not a number");
                }
                value = number.doubleValue();
            }
            if (Double.isNaN(value) || Double.isInfinite(value) || value < 0) {
                throw new IllegalArgumentException(where + ": " + amount.key() + "=" + amount.text()
                        + " gave " + value + "; an amount must be a finite number >= 0");
            }
            values.put(amount.key(), value);
        }
        return Request.of(values);
    }

    /** Calls the fallback instead of the method, with the rejection when it takes one. */
    Object fallback(Object target, Object[] args, LimitRejectedException rejection) throws Throwable {
        if (fallback == null) {
            throw rejection;
        }
        Object[] fallbackArgs = args;
        if (fallbackTakesRejection) {
            fallbackArgs = Arrays.copyOf(args, args.length + 1);
            fallbackArgs[args.length] = rejection;
        }
        try {
            return fallback.invoke(target, fallbackArgs);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
    }

    boolean hasFallback() {
        return fallback != null;
    }

    // ---- parsing and checks at start-up ----------------------------------------------------------

    private Limiter limiter(String name) {
        try {
            return beans.getBean(name, Limiter.class);
        } catch (NoSuchBeanDefinitionException | BeanNotOfRequiredTypeException e) {
            throw new IllegalStateException(where + ": there is no LimitSet or LimitPool bean named '" + name
                    + "'; limit sets and pools: " + List.of(beans.getBeanNamesForType(Limiter.class, false, false)), e);
        }
    }

    private List<Amount> parseRequest(String request) {
        List<Amount> parsed = new ArrayList<>();
        if (request.isBlank()) {
            return parsed;
        }
        for (String part : splitTopLevel(request)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? "" : part.substring(0, eq).trim();
            String text = eq < 0 ? "" : part.substring(eq + 1).trim();
            if (key.isEmpty() || text.isEmpty()) {
                throw new IllegalStateException(where + ": request \"" + request + "\" has '" + part.trim()
                        + "'; write key=amount pairs separated by commas, such as \"requests=1, tokens=#estimate(#prompt)\"");
            }
            if (parsed.stream().anyMatch(a -> a.key().equals(key))) {
                throw new IllegalStateException(where + ": request \"" + request + "\" names '" + key + "' twice");
            }
            Double constant = constantOrNull(text);
            if (constant != null) {
                parsed.add(new Amount(key, text, constant, null));
            } else {
                try {
                    parsed.add(new Amount(key, text, 0, PARSER.parseExpression(text)));
                } catch (ExpressionException e) {
                    throw new IllegalStateException(
                            where + ": " + key + "=" + text + " is not a valid SpEL expression: "
                                    + e.getMessage(),
                            e);
                }
            }
        }
        return parsed;
    }

    private static Double constantOrNull(String text) {
        try {
            return Double.valueOf(text);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Splits at commas outside parentheses, brackets, braces and quotes (SpEL may contain commas). */
    private static List<String> splitTopLevel(String text) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        char quote = 0;
        int start = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (c == ',' && depth == 0) {
                parts.add(text.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(text.substring(start));
        return parts;
    }

    private void checkKeys() {
        Set<String> keys = switch (limiter) {
            case LimitSet set -> set.limits().stream().map(Limit::key).collect(Collectors.toSet());
            case LimitPool pool -> pool.keys();
            default -> null;                       // another Limiter: it checks on each call
        };
        if (keys == null) {
            return;
        }
        for (Amount amount : amounts) {
            if (!keys.contains(amount.key())) {
                throw new IllegalStateException(where + ": '" + limiterName + "' has no key '" + amount.key()
                        + "'; its keys: " + keys);
            }
        }
    }

    /** The methods of the bean called as {@code #name(..)} in the expressions, as method handles. */
    private Map<String, BeanFunction> functions(Class<?> targetClass) {
        Map<String, BeanFunction> found = new LinkedHashMap<>();
        for (Amount amount : amounts) {
            if (amount.expression() == null) {
                continue;
            }
            Matcher m = FUNCTION_CALL.matcher(amount.text());
            while (m.find()) {
                String name = m.group(1);
                if (found.containsKey(name)) {
                    continue;
                }
                List<Method> candidates = new ArrayList<>();
                ReflectionUtils.doWithMethods(targetClass, candidates::add,
                        c -> c.getName().equals(name) && !c.isBridge() && !c.isSynthetic());
                if (candidates.isEmpty()) {
                    throw new IllegalStateException(where + ": " + amount.key() + "=" + amount.text() + " calls #"
                            + name + "(..), but " + ClassUtils.getShortName(targetClass) + " has no method " + name);
                }
                if (candidates.size() > 1) {
                    throw new IllegalStateException(where + ": " + amount.key() + "=" + amount.text() + " calls #"
                            + name + "(..), but " + ClassUtils.getShortName(targetClass) + " has " + candidates.size()
                            + " methods of that name; give the one used in expressions a name of its own");
                }
                Method target = candidates.getFirst();
                try {
                    ReflectionUtils.makeAccessible(target);
                    found.put(name, new BeanFunction(MethodHandles.lookup().unreflect(target),
                            Modifier.isStatic(target.getModifiers())));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(where + ": cannot call " + target + " from an expression", e);
                }
            }
        }
        return found;
    }

    private Duration parseTimeout(String text, Duration defaultTimeout) {
        if (text.isBlank()) {
            return defaultTimeout;
        }
        try {
            Duration parsed = DurationStyle.detectAndParse(text.trim());
            if (parsed.isNegative()) {
                throw new IllegalArgumentException("negative");
            }
            return parsed;
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(where + ": timeout \"" + text
                    + "\" is not a duration >= 0 such as 0, 500ms, 2s or PT1M", e);
        }
    }

    private static int acquisitionParameter(Method method) {
        Class<?>[] types = method.getParameterTypes();
        for (int i = 0; i < types.length; i++) {
            if (types[i] == Acquisition.class) {
                return i;
            }
        }
        return -1;
    }

    private Method fallback(Class<?> targetClass, String name) {
        if (name.isBlank()) {
            return null;
        }
        Class<?>[] params = method.getParameterTypes();
        List<Method> matching = new ArrayList<>();
        ReflectionUtils.doWithMethods(targetClass, matching::add, c -> c.getName().equals(name)
                && (Arrays.equals(c.getParameterTypes(), params) || takesRejection(c, params))
                && ClassUtils.isAssignable(method.getReturnType(), c.getReturnType()));
        if (matching.isEmpty()) {
            throw new IllegalStateException(where + ": fallbackMethod \"" + name + "\" must be a method of "
                    + ClassUtils.getShortName(targetClass) + " with the parameters " + Arrays.stream(params)
                            .map(Class::getSimpleName).collect(Collectors.joining(", ", "(", ")"))
                    + ", optionally followed by a LimitRejectedException, returning " + method.getReturnType()
                            .getSimpleName());
        }
        Method chosen = matching.getFirst();
        ReflectionUtils.makeAccessible(chosen);
        return chosen;
    }

    private static boolean takesRejection(Method candidate, Class<?>[] params) {
        Class<?>[] types = candidate.getParameterTypes();
        return types.length == params.length + 1
                && Arrays.equals(Arrays.copyOf(types, params.length), params)
                && types[params.length].isAssignableFrom(LimitRejectedException.class);
    }

    @Override
    public String toString() {
        return where;
    }
}
