package dev.concurry.spring;

import dev.concurry.limit.Acquisition;
import java.util.List;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.core.MethodParameter;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.bind.support.WebDataBinderFactory;
import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.method.support.HandlerMethodArgumentResolver;
import org.springframework.web.method.support.ModelAndViewContainer;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import org.springframework.web.servlet.DispatcherServlet;

/**
 * In a Spring MVC application, a {@link Limited @Limited} call rejected while serving a request (on the
 * controller itself or on a bean it calls) answers {@code 429 Too Many Requests} with a problem detail
 * naming the limiter. Off with {@code concurry.limited.http429=false}; an application's own
 * {@code @ExceptionHandler} for the exception takes precedence.
 *
 * <pre>{@code
 * HTTP/1.1 429
 * Content-Type: application/problem+json
 * {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"'openai' did not grant ...","limiter":"openai"}
 * }</pre>
 *
 * <p>A controller method can itself be {@code @Limited} and take the {@code Acquisition} as a parameter:
 * Spring MVC leaves that parameter to the interceptor.
 *
 * <p>When the refusal says when the request could be granted (SPEC L25), the response carries
 * {@code Retry-After} (whole seconds, rounded up) and the problem detail names the short keys; a refusal
 * that only a release can end (a resource limit) carries no {@code Retry-After}.
 */
@AutoConfiguration
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass(DispatcherServlet.class)
@ConditionalOnProperty(prefix = "concurry.limited", name = "http429", havingValue = "true", matchIfMissing = true)
public class ConcurryWebMvcAutoConfiguration {

    /** Used by the auto-configuration only. */
    public ConcurryWebMvcAutoConfiguration() {
    }

    /** The exception handler. */
    @Bean
    RejectionHandler concurryRejectionHandler() {
        return new RejectionHandler();
    }

    /** Lets a {@code @Limited} handler method declare an {@code Acquisition} parameter. */
    @Bean
    WebMvcConfigurer concurryAcquisitionParameter() {
        return new WebMvcConfigurer() {
            @Override
            public void addArgumentResolvers(List<HandlerMethodArgumentResolver> resolvers) {
                resolvers.add(new AcquisitionParameter());
            }
        };
    }

    /** Resolves an {@code Acquisition} parameter of a {@code @Limited} handler to nothing: the interceptor sets it. */
    static final class AcquisitionParameter implements HandlerMethodArgumentResolver {
        @Override
        public boolean supportsParameter(MethodParameter parameter) {
            return parameter.getParameterType() == Acquisition.class && parameter.hasMethodAnnotation(Limited.class);
        }

        @Override
        public Object resolveArgument(MethodParameter parameter, ModelAndViewContainer mavContainer,
                NativeWebRequest webRequest, WebDataBinderFactory binderFactory) {
            return null;
        }
    }

    /** Turns a {@link LimitRejectedException} into a 429 response. */
    @RestControllerAdvice
    static class RejectionHandler {

        @ExceptionHandler(LimitRejectedException.class)
        ResponseEntity<ProblemDetail> rejected(LimitRejectedException e) {
            ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.TOO_MANY_REQUESTS, e.getMessage());
            problem.setProperty("limiter", e.limiter());
            ResponseEntity.BodyBuilder response = ResponseEntity.status(HttpStatus.TOO_MANY_REQUESTS);
            e.refusal().ifPresent(refusal -> {
                problem.setProperty("shortKeys", refusal.shortages().stream().map(s -> s.key()).toList());
                refusal.grantableIn().ifPresent(in -> response.header("Retry-After",
                        Long.toString(Math.max(1, (in.toNanos() + 999_999_999L) / 1_000_000_000L))));
            });
            return response.body(problem);
        }
    }
}
