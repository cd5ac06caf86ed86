package dev.concurry.limit.http;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.Request;
import dev.concurry.limit.TooManyKeysException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

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
 *
 * <p>Per client, with a {@link KeyedLimits} family and the client's key read from the exchange (SPEC
 * L24): each client has its own quota and its own fields; a new client beyond the family's
 * {@code maxKeys} while every client still counts is answered {@code 503 Service Unavailable}.
 *
 * <pre>{@code
 * api.getFilters().add(LimitFilter.of(perCustomer, exchange -> exchange.getRequestHeaders().getFirst("X-Api-Key"),
 *         exchange -> Request.of("requests", 1)));
 * }</pre>
 */
public final class LimitFilter extends Filter {
    private final String description;
    private final Function<HttpExchange, Gate> gate;
    private final Function<HttpExchange, Request> request;

    /** What one exchange acquires from: a limiter, its limits, and its statistics (for the fields). */
    private record Gate(Limiter limiter, List<Limit> limits, Supplier<LimitStats> stats) {
    }

    private LimitFilter(String description, Function<HttpExchange, Gate> gate,
            Function<HttpExchange, Request> request) {
        this.description = description;
        this.gate = gate;
        this.request = Objects.requireNonNull(request, "request");
    }

    /**
     * A filter taking {@code request.apply(exchange)} from {@code limits} for every exchange (for
     * example one request, or an amount read from the exchange's headers).
     */
    public static LimitFilter of(LimitSet limits, Function<HttpExchange, Request> request) {
        Objects.requireNonNull(limits, "limits");
        Gate gate = new Gate(limits, limits.limits(), limits::stats);
        return new LimitFilter("Concurry limits of set '" + limits.name() + "'", exchange -> gate, request);
    }

    /**
     * A filter taking {@code request.apply(exchange)} from the key {@code key.apply(exchange)} of
     * {@code family} for every exchange: a per-client limit. The key function must return a key (answer
     * requests without one before this filter).
     */
    public static <K> LimitFilter of(KeyedLimits<K> family, Function<HttpExchange, K> key,
            Function<HttpExchange, Request> request) {
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(key, "key");
        return new LimitFilter("Concurry keyed limits '" + family.name() + "'", exchange -> {
            K k = key.apply(exchange);
            return new Gate(family.forKey(k), family.limits(k), () -> family.stats(k));
        }, request);
    }

    @Override
    public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
        Gate g = gate.apply(exchange);
        Attempt attempt;
        try {
            attempt = g.limiter().attempt(request.apply(exchange));
        } catch (TooManyKeysException e) {
            answer(exchange, 503, Map.of(), "too many clients: " + e.getMessage());
            return;
        }
        switch (attempt) {
            case Attempt.Granted granted -> {
                try (Acquisition acquisition = granted.acquisition()) {
                    add(exchange, RateLimitHeaders.granted(g.limits(), g.stats(), acquisition));
                    chain.doFilter(exchange);
                }
            }
            case Attempt.Refused refused -> answer(exchange, 429,
                    RateLimitHeaders.refused(g.limits(), g.stats(), refused.refusal()),
                    "too many requests: " + refused.refusal());
        }
    }

    private static void answer(HttpExchange exchange, int status, Map<String, String> headers, String text)
            throws IOException {
        try (exchange) {
            add(exchange, headers);
            byte[] body = (text + "\n").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            exchange.sendResponseHeaders(status, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private static void add(HttpExchange exchange, Map<String, String> headers) {
        headers.forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
    }

    @Override
    public String description() {
        return description + " (429 with RateLimit and Retry-After when refused)";
    }
}
