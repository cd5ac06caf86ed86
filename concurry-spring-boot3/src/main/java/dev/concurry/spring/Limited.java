package dev.concurry.spring;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Acquires limits around a method of a Spring bean: every key of {@link #request()} atomically from the
 * limit set or pool named by {@link #set()} before the method runs, settled and released when it returns
 * or throws (for a {@code CompletionStage} result: when the stage completes).
 *
 * <pre>{@code
 * @Service
 * class Summarizer {
 *     @Limited(set = "openai", request = "requests=1, tokens=#estimate(#text)")
 *     public Summary summarize(String text, Acquisition acq) {   // the acquisition is passed in
 *         Completion c = client.complete(prompt(text));
 *         acq.update("tokens", c.totalTokens());                  // reserve the estimate, settle to actual use
 *         return Summary.of(c);
 *     }
 *
 *     private int estimate(String text) {
 *         return text.length() / 3 + 500;
 *     }
 * }
 * }</pre>
 *
 * <p>The current acquisition reaches the method as a parameter of type
 * {@link dev.concurry.limit.Acquisition} (whatever the caller passed, {@code null} included, is
 * replaced), or through {@link ConcurryContext#current()} on the thread running the method.
 *
 * <p>When the limits are not granted in time the call is rejected: the {@link #fallbackMethod()} runs
 * if there is one, else {@link LimitRejectedException} is thrown (a {@code CompletionStage} method
 * returns a stage failed with it). In a Spring MVC request that exception answers
 * {@code 429 Too Many Requests} (see {@code concurry.limited.http429}).
 *
 * <p>Checked when the application starts: the set or pool must exist, and have every key the request
 * names; the expressions must parse; the fallback must exist with a matching signature. The method must
 * be called through the bean (a call from the same object, {@code this.summarize(..)}, is not
 * intercepted: Spring's proxies work that way).
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@Documented
public @interface Limited {

    /** The bean name of the {@code LimitSet} or {@code LimitPool}, such as one declared under {@code concurry.limit-sets}. */
    String set();

    /**
     * What the call takes: {@code key=amount} pairs separated by commas, each amount a number or a SpEL
     * expression evaluated per call. In an expression, {@code #name} is a parameter, {@code #name(..)}
     * calls a method of the annotated bean (any visibility; its name must not be overloaded),
     * {@code @other} is another bean and {@code ${...}} a property. Empty: the empty request, which takes
     * one unit of every call limit and resource limit of the set.
     *
     * <pre>{@code
     * @Limited(set = "openai", request = "requests=1, tokens=#maxTokens + #estimate(#prompt)")
     * }</pre>
     */
    String request() default "";

    /**
     * How long to wait for the limits: a duration such as {@code 2s}, {@code 500ms} or {@code PT1M}, or a
     * {@code ${...}} property; {@code 0} fails fast (never waits). Empty: {@code concurry.limited.default-timeout},
     * or until granted when that is not set.
     */
    String timeout() default "";

    /**
     * A method of the same bean to call instead when the limits are not granted in time: the same
     * parameters, optionally followed by a {@link LimitRejectedException} (or a supertype) parameter,
     * returning a type assignable to this method's. Empty: throw.
     *
     * <pre>{@code
     * @Limited(set = "openai", request = "requests=1", timeout = "0", fallbackMethod = "cached")
     * public Answer ask(String question) { ... }
     *
     * private Answer cached(String question, LimitRejectedException e) { ... }
     * }</pre>
     */
    String fallbackMethod() default "";
}
