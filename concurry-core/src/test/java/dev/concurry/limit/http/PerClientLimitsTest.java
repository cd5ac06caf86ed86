package dev.concurry.limit.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpServer;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.Backends;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.ManualClock;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SPEC L24 with L25 on the server side: a JDK HTTP server limits each API key with a {@link KeyedLimits}
 * family through {@link LimitFilter}; one client's 429 (with its own fields and {@code Retry-After})
 * leaves the others served, premium keys get their tier's quota in their fields, and a new client
 * beyond {@code maxKeys} while every client still counts gets 503. Real HTTP on loopback; time is a
 * manual clock, so the quotas do not refill during the test.
 */
@Timeout(60)
class PerClientLimitsTest {
    private static final Request ONE = Request.of("requests", 1);

    private final ManualClock clock = new ManualClock();
    private HttpServer server;
    private KeyedLimits<String> perClient;
    private HttpClient http;
    private URI uri;

    @BeforeEach
    void start() throws IOException {
        perClient = KeyedLimits.<String>builder().name("api")
                .add(RateLimit.of("requests", 3, Duration.ofMinutes(1)))
                .override(key -> key.startsWith("premium-"), RateLimit.of("requests", 10, Duration.ofMinutes(1)))
                .backend(Backends.inMemory(clock)).maxKeys(3).build();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        HttpContext api = server.createContext("/api", exchange -> {
            try (exchange) {
                byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
        });
        api.getFilters().add(LimitFilter.of(perClient, exchange -> exchange.getRequestHeaders().getFirst("X-Api-Key"),
                exchange -> ONE));
        server.start();
        uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/api");
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
        if (http != null) {
            http.close();
        }
        if (perClient != null) {
            perClient.close();
        }
    }

    private HttpResponse<String> send(String apiKey) {
        try {
            return http.send(HttpRequest.newBuilder(uri).header("X-Api-Key", apiKey).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    @DisplayName("L24/L25 each API key gets its own 429 and fields; the others are still served")
    void each_client_is_limited_on_its_own() {
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> ok = send("acme");
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.headers().firstValue("RateLimit-Policy")).hasValue("\"requests\";q=3;w=60");
            assertThat(ok.headers().firstValue("RateLimit")).hasValue("\"requests\";r=" + (2 - i) + ";t=60");
        }
        HttpResponse<String> refused = send("acme");
        assertThat(refused.statusCode()).isEqualTo(429);
        assertThat(refused.headers().firstValue("Retry-After")).as("the first request leaves the window at 60 s")
                .hasValue("60");
        assertThat(refused.headers().firstValue("RateLimit")).hasValue("\"requests\";r=0;t=60");
        assertThat(refused.body()).contains("requests: 0 of 1 available");

        HttpResponse<String> other = send("globex");
        assertThat(other.statusCode()).as("another client is not held up").isEqualTo(200);
        HttpResponse<String> premium = send("premium-initech");
        assertThat(premium.statusCode()).isEqualTo(200);
        assertThat(premium.headers().firstValue("RateLimit-Policy")).as("its tier's quota")
                .hasValue("\"requests\";q=10;w=60");

        HttpResponse<String> tooMany = send("hooli");
        assertThat(tooMany.statusCode()).as("a fourth client while the three still count").isEqualTo(503);
        assertThat(tooMany.body()).contains("maximum of 3 keys");
        assertThat(perClient.keyedStats().refused()).isEqualTo(1);
    }

    @Test
    @DisplayName("L24/L25 RateLimitHeaders by hand: a key's grant and refusal fields, for any HTTP stack")
    void headers_of_a_key_by_hand() {
        KeyedLimits<String> jobs = KeyedLimits.<String>builder().name("jobs")
                .add(RateLimit.of("requests", 2, Duration.ofSeconds(10))).add(ResourceLimit.of("jobs", 1))
                .backend(Backends.inMemory(clock)).build();
        try (jobs) {
            Request request = Request.of("requests", 1).and("jobs", 1);
            Acquisition held = ((Attempt.Granted) jobs.attempt("acme", request)).acquisition();
            assertThat(RateLimitHeaders.granted(jobs, "acme", held)).isEqualTo(Map.of(
                    "RateLimit-Policy", "\"requests\";q=2;w=10", "RateLimit", "\"requests\";r=1;t=10"));
            Attempt.Refused refused = (Attempt.Refused) jobs.attempt("acme", request);
            assertThat(RateLimitHeaders.refused(jobs, "acme", refused.refusal()))
                    .as("only a release frees the job: no Retry-After")
                    .isEqualTo(
                            Map.of("RateLimit-Policy", "\"requests\";q=2;w=10", "RateLimit", "\"requests\";r=1;t=10"));
            held.close();
        }
    }
}
