package dev.concurry.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.redis.RedisBackend;
import dev.concurry.redis.RedisServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.data.redis.RedisAutoConfiguration;
import org.springframework.boot.web.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * A limit set declared with {@code backend: redis} in a real application over HTTP, against a real
 * {@code redis-server} the test starts (skipped when none can run): built on Spring Data Redis's own
 * Lettuce client, shared with a second application on the same Redis, reported by the endpoint, and
 * the health contributor DOWN once Redis is gone.
 */
class RedisBackendOverHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static RedisServer redis;
    private static ConfigurableApplicationContext app;

    /** The application: a controller whose service takes requests and tokens from the Redis set. */
    @SpringBootConfiguration
    @EnableAutoConfiguration
    @Import(App.Api.class)
    static class App {
        @RestController
        static class Api {
            @Limited(set = "shared", request = "requests=1, tokens=#reserve", timeout = "0")
            @GetMapping("/complete")
            public String complete(@RequestParam int reserve, @RequestParam int used, Acquisition acquisition) {
                acquisition.update("tokens", used);
                return "ok";
            }
        }
    }

    @AfterAll
    static void stop() {
        if (app != null) {
            app.close();
        }
        if (redis != null) {
            redis.close();
        }
    }

    @Test
    @DisplayName("L18 a Redis set from YAML: one quota across applications, reported live, DOWN when Redis is gone")
    void aRedisSetFromYamlIsSharedReportedAndHealthChecked() throws Exception {
        redis = RedisServer.start();
        app = new SpringApplicationBuilder(App.class).properties("spring.config.name=redis-test",
                "server.port=0", "spring.data.redis.port=" + redis.port, "spring.data.redis.host=127.0.0.1").run();
        int port = ((WebServerApplicationContext) app).getWebServer().getPort();
        LimitSet shared = app.getBean("shared", LimitSet.class);
        assertThat(shared.backend()).isInstanceOf(RedisBackend.class);

        // Reserve 400 tokens with a request, settle to 120: Redis holds 1 request and 120 tokens.
        assertThat(get(port, "/complete?reserve=400&used=120").statusCode()).isEqualTo(200);
        JsonNode set = json(port, "/actuator/concurry/shared");
        assertThat(set.path("backend").asText()).isEqualTo("redis");
        assertThat(set.path("keys").path("tokens").path("inUse").asDouble()).isEqualTo(120);
        assertThat(set.path("keys").path("requests").path("inUse").asDouble()).isEqualTo(1);

        // A second application on the same Redis sees the same quota, and what it takes is seen here.
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RedisAutoConfiguration.class,
                        ConcurryRedisAutoConfiguration.class, ConcurryAutoConfiguration.class))
                .withPropertyValues("spring.data.redis.port=" + redis.port, "spring.data.redis.host=127.0.0.1",
                        "concurry.limit-sets.other.backend=redis", "concurry.limit-sets.other.name=spring-test-shared",
                        "concurry.limit-sets.other.limits[0].key=requests",
                        "concurry.limit-sets.other.limits[0].capacity=50",
                        "concurry.limit-sets.other.limits[0].window=1h",
                        "concurry.limit-sets.other.limits[1].key=tokens",
                        "concurry.limit-sets.other.limits[1].capacity=5000",
                        "concurry.limit-sets.other.limits[1].window=1h")
                .run(other -> {
                    assertThat(other).hasNotFailed();
                    assertThat(other.getBeanNamesForType(RedisBackend.class)).as("built from Spring Data's client")
                            .containsExactly("concurryRedisBackend");
                    assertThat(other.getBeanNamesForType(io.lettuce.core.RedisClient.class)).as("no second client")
                            .isEmpty();
                    LimitSet seen = other.getBean("other", LimitSet.class);
                    assertThat(seen.stats().key("tokens").inUse()).isEqualTo(120);
                    try (Acquisition a = seen.acquire(Request.of("tokens", 4880))) {
                        assertThat(get(port, "/complete?reserve=1&used=1").statusCode())
                                .as("the other application holds every token left").isEqualTo(429);
                    }
                });
        assertThat(shared.stats().key("tokens").inUse()).isEqualTo(120 + 4880);

        HttpResponse<String> up = get(port, "/actuator/health");
        assertThat(up.statusCode()).isEqualTo(200);
        JsonNode concurry = JSON.readTree(up.body()).path("components").path("concurry");
        assertThat(concurry.path("status").asText()).as("a saturated set is healthy").isEqualTo("UP");
        assertThat(concurry.path("details").path("shared").asText()).isEqualTo("redis: reachable");

        redis.stop();
        HttpResponse<String> down = get(port, "/actuator/health");
        assertThat(down.statusCode()).isEqualTo(503);
        concurry = JSON.readTree(down.body()).path("components").path("concurry");
        assertThat(concurry.path("status").asText()).isEqualTo("DOWN");
        assertThat(concurry.path("details").path("shared").asText()).startsWith("redis: unreachable: ");
        assertThat(json(port, "/actuator/concurry/shared").path("error").asText()).isNotBlank();
    }

    private static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(int port, String path) throws IOException, InterruptedException {
        HttpResponse<String> response = get(port, path);
        assertThat(response.statusCode()).as(path + ": " + response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }
}
