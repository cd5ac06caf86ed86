package dev.concurry.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.worker.TaskExecutor;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * A real application over real HTTP on a random port: limits from YAML alone ({@code llm-test.yml}), a
 * controller calling {@code @Limited} services, the actuator endpoint, health and meters. One context
 * for the class; each test uses its own limit set, so the order of tests does not matter.
 */
@SpringBootTest(classes = LlmTestApp.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "spring.config.name=llm-test")
class LimitedOverHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @LocalServerPort
    int port;
    @Autowired
    LlmTestApp.Llm llm;
    @Autowired
    LlmTestApp.Outer outer;
    @Autowired
    @Qualifier("settle")
    LimitSet settle;
    @Autowired
    @Qualifier("slots")
    LimitSet slots;
    @Autowired
    @Qualifier("summarizers")
    TaskExecutor summarizers;

    @Test
    @DisplayName("L13 an @Limited call reserves the SpEL estimate with the request and settles to the reported use")
    void reservesTheEstimateAndSettlesToActualUse() throws Exception {
        // Other tests of this class use the set too: compare with what it held before.
        JsonNode before = json("/actuator/concurry/settle").path("keys");
        double tokensBefore = before.path("tokens").path("inUse").asDouble();
        double requestsBefore = before.path("requests").path("inUse").asDouble();
        double refundedBefore = before.path("tokens").path("refunded").asDouble();
        double chargedBefore = before.path("tokens").path("charged").asDouble();

        // "abcdefghij": estimate 10 * 10 = 100 tokens reserved; the provider reported 37: 63 refunded.
        HttpResponse<String> first = get("/complete?prompt=abcdefghij&used=37");
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.body()).isEqualTo("granted {requests=1.0, tokens=100.0}");
        JsonNode tokens = json("/actuator/concurry/settle").path("keys").path("tokens");
        assertThat(tokens.path("inUse").asDouble() - tokensBefore).isEqualTo(37);
        assertThat(tokens.path("refunded").asDouble() - refundedBefore).isEqualTo(63);

        // Reserve 50, use 80: the 30 of overuse are charged.
        assertThat(get("/complete?prompt=abcde&used=80").statusCode()).isEqualTo(200);
        JsonNode after = json("/actuator/concurry/settle");
        assertThat(after.path("keys").path("tokens").path("inUse").asDouble() - tokensBefore).isEqualTo(37 + 80);
        assertThat(after.path("keys").path("tokens").path("charged").asDouble() - chargedBefore).isEqualTo(30);
        assertThat(after.path("keys").path("requests").path("inUse").asDouble() - requestsBefore).isEqualTo(2);
        assertThat(after.path("config").path("region").asText()).isEqualTo("us-east-1");
        assertThat(after.path("backend").asText()).isEqualTo("in-memory");
    }

    @Test
    @DisplayName("L8 requests and tokens are taken atomically: refused calls take no request unit, over HTTP, concurrently")
    void requestsAndTokensAreTakenAtomicallyUnderConcurrentCalls() throws Exception {
        // 10 requests and 1000 tokens per hour; each call takes 1 request and 300 tokens: exactly 3 fit.
        // A limiter taking requests first and tokens after would use up request units for refused calls.
        int calls = 40;
        List<Future<HttpResponse<String>>> responses = new ArrayList<>();
        try (ExecutorService clients = Executors.newFixedThreadPool(16)) {
            for (int i = 0; i < calls; i++) {
                responses.add(clients.submit(() -> get("/tight?maxTokens=300")));
            }
        }
        int ok = 0;
        int tooMany = 0;
        for (Future<HttpResponse<String>> f : responses) {
            HttpResponse<String> r = f.get();
            if (r.statusCode() == 200) {
                ok++;
            } else {
                assertThat(r.statusCode()).isEqualTo(429);
                // L25: the first 300-token grants leave the hour's sliding window in about 3600 s.
                assertThat(r.headers().firstValue("Retry-After")).as("when the request could be granted")
                        .hasValueSatisfying(seconds -> assertThat(Long.parseLong(seconds)).isBetween(3500L, 3601L));
                JsonNode problem = JSON.readTree(r.body());
                assertThat(problem.path("shortKeys").toString()).isEqualTo("[\"tokens\"]");
                assertThat(problem.path("limiter").asText()).isEqualTo("tight");
                assertThat(problem.path("detail").asText()).contains("'tight' did not grant");
                tooMany++;
            }
        }
        assertThat(ok).isEqualTo(3);
        assertThat(tooMany).isEqualTo(calls - 3);
        JsonNode keys = json("/actuator/concurry/tight").path("keys");
        assertThat(keys.path("requests").path("inUse").asDouble()).as("one request unit per granted call only")
                .isEqualTo(3);
        assertThat(keys.path("tokens").path("inUse").asDouble()).isEqualTo(900);
        // 100 tokens are left: a call that fits is still granted, and takes its request unit.
        assertThat(get("/tight?maxTokens=100").statusCode()).isEqualTo(200);
        assertThat(json("/actuator/concurry/tight").path("keys").path("requests").path("inUse").asDouble())
                .isEqualTo(4);
    }

    @Test
    @DisplayName("L13 a CompletionStage method holds its limits until the stage completes")
    void aCompletionStageMethodHoldsItsLimitsUntilTheStageCompletes() {
        CompletableFuture<String> answer = new CompletableFuture<>();
        CompletableFuture<String> first = llm.later(answer);
        assertThat(first).isSameAs(answer);
        CompletableFuture<String> second = llm.later(new CompletableFuture<>());
        assertThat(second).as("the only slot is held by the first call").isCompletedExceptionally();
        assertThatThrownBy(second::join).cause().isInstanceOf(LimitRejectedException.class)
                .hasMessageContaining("'slots' did not grant {slots=1.0} now (fail fast)");
        answer.complete("done");
        assertThat(slots.stats().key("slots").inUse()).isZero();
        CompletableFuture<String> third = llm.later(CompletableFuture.completedFuture("again"));
        assertThat(third.join()).isEqualTo("again");
        assertThat(slots.stats().key("slots").inUse()).isZero();
    }

    @Test
    @DisplayName("rejection: the fallback method runs with the rejection; a waiting call times out after its timeout")
    void aRejectedCallRunsTheFallbackOrThrowsAfterWaiting() {
        assertThat(llm.withFallback("ann")).isEqualTo("hello ann");
        try (var held = slots.acquire(Request.of("slots", 1))) {
            assertThat(llm.withFallback("bob")).isEqualTo("busy for bob (slots)");
            long start = System.nanoTime();
            assertThatThrownBy(llm::waiting).isInstanceOf(LimitRejectedException.class)
                    .hasMessageContaining("within PT0.1S")
                    .cause().isInstanceOf(dev.concurry.limit.AcquireTimeoutException.class);
            assertThat(System.nanoTime() - start).as("it waited for its timeout").isGreaterThanOrEqualTo(100_000_000L);
        }
        assertThat(llm.waiting()).isEqualTo("ran");
    }

    @Test
    @DisplayName("the current acquisition: nested @Limited calls each see their own; none outside")
    void nestedCallsSeeTheirOwnAcquisition() {
        assertThat(outer.nested()).isEqualTo("true, inner granted {requests=1.0, tokens=10.0}");
        assertThat(ConcurryContext.find()).isEmpty();
        assertThatThrownBy(ConcurryContext::current).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no @Limited method is running on this thread");
        assertThat(slots.stats().key("slots").inUse()).isZero();
    }

    @Test
    @DisplayName("L21 a limit pool from YAML: @Limited on a pool spreads calls round-robin over its sets")
    void aPoolFromYamlServesAnnotatedCalls() throws Exception {
        List<String> regions = List.of(llm.region(), llm.region(), llm.region(), llm.region());
        assertThat(regions).containsExactlyInAnyOrder("us-east-1", "eu-west-1", "us-east-1", "eu-west-1");
        JsonNode pool = json("/actuator/concurry/regions");
        assertThat(pool.path("balancing").asText()).isEqualTo("ROUND_ROBIN");
        assertThat(pool.path("dispatched").asLong()).isEqualTo(4);
        assertThat(pool.path("sets").get(0).path("set").path("name").asText()).isEqualTo("us");
        assertThat(pool.path("sets").get(0).path("dispatched").asLong()).isEqualTo(2);
        assertThat(json("/actuator/metrics/concurry.limit.pool.dispatched?tag=pool:regions&tag=set:eu")
                .path("measurements").get(0).path("value").asDouble()).isEqualTo(2);
    }

    @Test
    @DisplayName("W9 a worker pool from YAML: a task executor bean sharing the set it names")
    void aWorkerPoolFromYamlRunsTasksUnderItsLimits() throws Exception {
        long before = settle.stats().granted();
        List<CompletableFuture<String>> done = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            done.add(summarizers.submit(limits -> {
                try (var acq = limits.acquire(Request.of("requests", 1))) {
                    return Thread.currentThread().isVirtual() ? "virtual" : "platform";
                }
            }));
        }
        assertThat(done).allSatisfy(f -> assertThat(f.join()).isEqualTo("virtual"));
        assertThat(settle.stats().granted() - before).isEqualTo(5);
        JsonNode workers = json("/actuator/concurry/summarizers");
        assertThat(workers.path("mode").asText()).isEqualTo("VIRTUAL");
        assertThat(workers.path("completed").asLong()).isEqualTo(5);
        assertThat(json("/actuator/metrics/concurry.worker.calls?tag=pool:summarizers&tag=outcome:success")
                .path("measurements").get(0).path("value").asDouble()).isEqualTo(5);
    }

    @Test
    @DisplayName("actuator: the endpoint lists every set, pool and worker pool; an unknown name is 404")
    void theEndpointListsEverything() throws Exception {
        JsonNode all = json("/actuator/concurry");
        assertThat(all.path("limitSets").fieldNames()).toIterable()
                .containsExactlyInAnyOrder("settle", "tight", "slots", "us", "eu");
        assertThat(all.path("limitPools").fieldNames()).toIterable().containsExactly("regions");
        assertThat(all.path("workerPools").fieldNames()).toIterable().containsExactly("summarizers");
        JsonNode slotsKey = all.path("limitSets").path("slots").path("keys").path("slots");
        assertThat(slotsKey.path("type").asText()).isEqualTo("resource");
        assertThat(slotsKey.path("capacity").asDouble()).isEqualTo(1);
        JsonNode tokens = all.path("limitSets").path("tight").path("keys").path("tokens");
        assertThat(tokens.path("window").asText()).isEqualTo("PT1H");
        assertThat(tokens.path("algorithm").asText()).isEqualTo("SLIDING_WINDOW");
        assertThat(get("/actuator/concurry/nothing-of-that-name").statusCode()).isEqualTo(404);
    }

    @Test
    @DisplayName("health: in-memory limits are UP, also while saturated")
    void aSaturatedLimitIsHealthy() throws Exception {
        try (var held = slots.acquire(Request.of("slots", 1))) {
            assertThat(slots.tryAcquire(Request.of("slots", 1))).isEmpty();
            HttpResponse<String> health = get("/actuator/health");
            assertThat(health.statusCode()).isEqualTo(200);
            JsonNode concurry = JSON.readTree(health.body()).path("components").path("concurry");
            assertThat(concurry.path("status").asText()).isEqualTo("UP");
            assertThat(concurry.path("details").path("localSets").asInt()).isEqualTo(5);
        }
    }

    @Test
    @DisplayName("P2 meters are bound automatically: usage per key, grants, refunds")
    void metersAreBoundAutomatically() throws Exception {
        assertThat(get("/complete?prompt=ab&used=5").statusCode()).isEqualTo(200);
        double inUse = settle.stats().key("tokens").inUse();
        assertThat(json("/actuator/metrics/concurry.limit.in.use?tag=set:settle&tag=key:tokens")
                .path("measurements").get(0).path("value").asDouble()).isEqualTo(inUse);
        assertThat(json("/actuator/metrics/concurry.limit.grants?tag=set:settle")
                .path("measurements").get(0).path("value").asDouble()).isEqualTo(settle.stats().granted());
        assertThat(json("/actuator/metrics/concurry.limit.capacity?tag=set:tight&tag=key:tokens")
                .path("measurements").get(0).path("value").asDouble()).isEqualTo(1000);
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(60))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(String path) throws IOException, InterruptedException, ExecutionException {
        HttpResponse<String> response = get(path);
        assertThat(response.statusCode()).as(path + ": " + response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }
}
