package dev.concurry.limit.http;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * A filter for the JDK's HTTP server ({@code com.sun.net.httpserver}, module {@code jdk.httpserver})
 * that acquires from a {@link LimitSet} for every request (SPEC L25): a granted request runs the
 * handler while it holds its acquisition, its response carrying the set's {@code RateLimit-Policy} and
 * {@code RateLimit} fields; a refused one is answered {@code 429 Too Many Requests} with those fields
 * and {@code Retry-After} ({@link RateLimitHeaders}), and the handler does not run. Nothing waits: a
 * request that cannot be granted now is refused now.
 *
 * <pre>{@code
 * HttpServer server = HttpServer.create(new InetSocketAddress(8080), 0);
 * HttpContext api = server.createContext("/api", handler);
 * api.getFilters().add(LimitFilter.of(limits, exchange -> Request.of("requests", 1)));
 * }</pre>
 */
public final class LimitFilter extends Filter {
    private final LimitSet limits;
    private final Function<HttpExchange, Request> request;

    private LimitFilter(LimitSet limits, Function<HttpExchange, Request> request) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.request = Objects.requireNonNull(request, "request");
    }

    /**
     * A filter taking {@code request.apply(exchange)} from {@code limits} for every exchange (for
     * example one request, or an amount read from the exchange's headers).
     */
    public static LimitFilter of(LimitSet limits, Function<HttpExchange, Request> request) {
        return new LimitFilter(limits, request);
    }

    @Override
    public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
        switch (limits.attempt(request.apply(exchange))) {
            case Attempt.Granted granted -> {
                try (Acquisition acquisition = granted.acquisition()) {
                    add(exchange, RateLimitHeaders.granted(limits, acquisition));
                    chain.doFilter(exchange);
                }
            }
            case Attempt.Refused refused -> {
                try (exchange) {
                    add(exchange, RateLimitHeaders.refused(limits, refused.refusal()));
                    byte[] body = ("too many requests: " + refused.refusal() + "\n").getBytes(StandardCharsets.UTF_8);
                    exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
                    exchange.sendResponseHeaders(429, body.length);
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(body);
                    }
                }
            }
        }
    }

    private static void add(HttpExchange exchange, Map<String, String> headers) {
        headers.forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
    }

    @Override
    public String description() {
        return "Concurry limits of set '" + limits.name() + "' (429 with RateLimit and Retry-After when refused)";
    }
}
