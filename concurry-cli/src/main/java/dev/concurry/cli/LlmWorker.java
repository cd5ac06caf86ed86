package dev.concurry.cli;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Request;
import dev.concurry.limit.http.ProviderHeaders;
import dev.concurry.worker.Worker;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The seed's {@code AIWorker}: reserves one request and the most tokens a call can use, calls the API
 * of the region its acquisition names, then settles the reservation to the tokens really used. A
 * worker that listens to the provider also tells the set what the API's headers said (what remains,
 * when it resets, a 429's retry time), so that every worker of the set stays within it.
 */
public final class LlmWorker extends Worker {
    /**
     * What one call did; {@code grantedAt} in {@link System#nanoTime()} (comparable across the JVMs of one
     * host), {@code pid} of the JVM that made the call (a member JVM in cluster mode).
     */
    record Outcome(String region, int status, int tokens, long grantedAt, long pid) implements java.io.Serializable {
    }

    static final Request RESERVE = Request.of("requests", 1).and("tokens", LlmScenario.MAX_TOKENS);
    private static final Pattern TOTAL_TOKENS = Pattern.compile("\"total_tokens\":(\\d+)");

    private final HttpClient http;
    private final Map<String, URI> endpoints;
    private final boolean listen;

    /** {@code endpoints} by region; a set whose config has no region uses the entry {@code "default"}. */
    LlmWorker(HttpClient http, Map<String, URI> endpoints) {
        this(http, endpoints, false);
    }

    /** As above; {@code listen}: report the API's rate-limit headers to the set ({@link Acquisition#observe}). */
    LlmWorker(HttpClient http, Map<String, URI> endpoints, boolean listen) {
        this.http = http;
        this.endpoints = endpoints;
        this.listen = listen;
    }

    /** A worker with an HTTP client of its own: for a worker built where it runs (a cluster member). */
    LlmWorker(Map<String, URI> endpoints) {
        this(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build(), endpoints);
    }

    /**
     * Calls the API's {@code /health} (not counted) {@code calls} times, to open connections and compile the
     * HTTP path before a measured run; returns the JVM's pid.
     */
    long warmUp(int calls) throws IOException, InterruptedException {
        HttpRequest health = HttpRequest.newBuilder(endpoints.values().iterator().next().resolve("/health")).build();
        for (int i = 0; i < calls; i++) {
            http.send(health, HttpResponse.BodyHandlers.discarding());
        }
        return ProcessHandle.current().pid();
    }

    /** One completion, or empty when no grant came before {@code deadlineNanos} (the run is over). */
    Optional<Outcome> generate(long deadlineNanos) throws IOException, InterruptedException {
        Duration left = Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime()));
        try (Acquisition acq = limits().acquire(RESERVE, left)) {
            long grantedAt = System.nanoTime();
            String region = acq.config().getOrDefault("region", "default");
            HttpRequest request = HttpRequest.newBuilder(endpoints.get(region))
                    .header("X-Sent-At", Long.toString(grantedAt))
                    .timeout(Duration.ofSeconds(10))
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"prompt\":\"Hello\",\"max_tokens\":" + LlmScenario.MAX_TOKENS + "}"))
                    .build();
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (listen) {
                acq.observe(ProviderHeaders.openAi(response.statusCode(), response.headers().map()));
            }
            int used = 0;
            if (response.statusCode() == 200) {
                Matcher m = TOTAL_TOKENS.matcher(response.body());
                used = m.find() ? Integer.parseInt(m.group(1)) : LlmScenario.MAX_TOKENS;
            }
            acq.update("tokens", used);            // settle the reservation to actual usage on close
            return Optional.of(new Outcome(region, response.statusCode(), used, grantedAt,
                    ProcessHandle.current().pid()));
        } catch (AcquireTimeoutException e) {
            return Optional.empty();
        }
    }
}
