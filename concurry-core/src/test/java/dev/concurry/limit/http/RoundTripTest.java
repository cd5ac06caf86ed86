package dev.concurry.limit.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpServer;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SPEC L25 with F2–F3, each side proving the other over real HTTP on loopback: a server protected by a
 * Concurry set ({@link LimitFilter}: 5 requests per 2 s) answers 429 with {@code Retry-After} and the
 * IETF fields; a Concurry client set configured with twice that quota, listening to the server
 * ({@link ProviderHeaders#ietf()}), is refused in its first burst and never again.
 */
@Timeout(60)
class RoundTripTest {
    private static final Duration WINDOW = Duration.ofSeconds(2);
    private static final Request ONE = Request.of("requests", 1);

    private HttpServer server;
    private LimitSet serverLimits;
    private LimitSet client;
    private HttpClient http;
    private URI uri;

    @BeforeEach
    void start() throws IOException {
        serverLimits = LimitSet.builder().name("server").add(RateLimit.of("requests", 5, WINDOW)).build();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        HttpContext api = server.createContext("/api", exchange -> {
            try (exchange) {
                byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
        });
        api.getFilters().add(LimitFilter.of(serverLimits, exchange -> ONE));
        server.start();
        uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/api");
        client = LimitSet.builder().name("client").add(RateLimit.of("requests", 10, WINDOW)).build();   // 2x wrong
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
        if (client != null) {
            client.close();
        }
        if (serverLimits != null) {
            serverLimits.close();
        }
    }

    private HttpResponse<String> send() {
        try {
            return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    @DisplayName("L25 F2 F3 the server's 429 and fields stop the client: refused in its first burst, never after")
    void refused_once_then_never() {
        // The client believes it may send 10: eight calls at once, all granted by the client set.
        List<Acquisition> burst = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            burst.add(client.tryAcquire(ONE).orElseThrow());
        }
        List<CompletableFuture<HttpResponse<String>>> sent = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            sent.add(CompletableFuture.supplyAsync(this::send));
        }
        int refusedInBurst = 0;
        for (int i = 0; i < 8; i++) {
            HttpResponse<String> response = sent.get(i).join();
            try (Acquisition acq = burst.get(i)) {
                acq.observe(ProviderHeaders.ietf(response.statusCode(), response.headers().map()));
            }
            if (response.statusCode() == 429) {
                refusedInBurst++;
                assertThat(response.headers().firstValue("Retry-After")).as("the server says when").isPresent();
                assertThat(response.headers().firstValue("RateLimit")).hasValue("\"requests\";r=0;t=2");
            } else {
                assertThat(response.headers().firstValue("RateLimit-Policy")).hasValue("\"requests\";q=5;w=2");
            }
        }
        assertThat(refusedInBurst).as("the server's own limit refuses 3 of the 8").isEqualTo(3);
        LimitStats heard = client.stats();
        assertThat(heard.provider().refusals()).isEqualTo(3);
        assertThat(heard.key("requests").inUse()).as("refused calls are not counted by the client").isEqualTo(5);
        assertThat(heard.key("requests").provider().limitDiffers()).as("the server says 5, not 10").isTrue();

        // From now on the client listens: it keeps calling for two and a half windows and is never refused.
        long end = System.nanoTime() + WINDOW.toNanos() * 5 / 2;
        int calls = 0;
        while (System.nanoTime() < end) {
            try (Acquisition acq = client.acquire(ONE, WINDOW.multipliedBy(2))) {
                HttpResponse<String> response = send();
                acq.observe(ProviderHeaders.ietf(response.statusCode(), response.headers().map()));
                assertThat(response.statusCode()).as("call %d after the first refusal: %s", calls, response.body())
                        .isEqualTo(200);
                calls++;
            }
        }
        assertThat(calls).as("the client kept using the server's quota").isGreaterThanOrEqualTo(3);
        assertThat(serverLimits.stats().rejected()).as("the server refused only the burst").isEqualTo(3);
    }
}
