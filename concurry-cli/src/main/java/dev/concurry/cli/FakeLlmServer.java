package dev.concurry.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A local HTTP server on loopback that behaves like a rate-limited LLM API: it enforces its own
 * requests-per-window and tokens-per-window over a sliding window, answers 429 when a request would
 * exceed either, and otherwise reports a random actual token usage after a short latency.
 *
 * <p>Each request is counted at the moment its client says it was sent (header {@code X-Sent-At}, in
 * {@link System#nanoTime()} of this JVM, which the demo's client shares), so that HTTP queueing on a busy
 * machine does not shift requests from one window into the next; without the header, at arrival. A
 * request is refused if any window of 95% of a minute containing it would exceed a limit: the 5%
 * absorbs the moments between a client's grant and its send ({@link #exact} counts over the whole window).
 * {@code /health} answers 200 without counting.
 *
 * <p>Like OpenAI's API, every answer says where the caller stands, computed when it is sent:
 * {@code x-ratelimit-limit-requests|tokens}, {@code x-ratelimit-remaining-requests|tokens} (what a
 * request sent now may still use) and {@code x-ratelimit-reset-requests|tokens} (a duration such as
 * {@code 850ms} or {@code 1.250s}: when the window holds nothing any more); a 429 adds
 * {@code retry-after} (whole seconds) and {@code retry-after-ms}: when the refused request would fit.
 */
final class FakeLlmServer implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final long windowNanos;
    private final int requestsPerWindow;
    private final int tokensPerWindow;
    private final int minTokens;
    private final int maxTokens;
    private final Duration latency;
    private final ReentrantLock lock = new ReentrantLock();
    private final java.util.TreeMap<Long, long[]> recent = new java.util.TreeMap<>();   // sent at -> {count, tokens}
    private final AtomicLong rejected = new AtomicLong();
    /** Every request served: when it was counted, and its tokens (for utilisation over a run). */
    private final java.util.List<long[]> served = new java.util.ArrayList<>();

    FakeLlmServer(int port, Duration window, int requestsPerWindow, int tokensPerWindow,
            int minTokens, int maxTokens, Duration latency) throws IOException {
        this(port, window.toNanos() * 95 / 100, requestsPerWindow, tokensPerWindow, minTokens, maxTokens, latency);
    }

    /** A server that counts over exactly {@code window}, as a provider does. */
    static FakeLlmServer exact(int port, Duration window, int requestsPerWindow, int tokensPerWindow,
            int minTokens, int maxTokens, Duration latency) throws IOException {
        return new FakeLlmServer(port, window.toNanos(), requestsPerWindow, tokensPerWindow, minTokens, maxTokens,
                latency);
    }

    private FakeLlmServer(int port, long windowNanos, int requestsPerWindow, int tokensPerWindow,
            int minTokens, int maxTokens, Duration latency) throws IOException {
        this.windowNanos = windowNanos;
        this.requestsPerWindow = requestsPerWindow;
        this.tokensPerWindow = tokensPerWindow;
        this.minTokens = minTokens;
        this.maxTokens = maxTokens;
        this.latency = latency;
        try {
            this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
        } catch (BindException e) {
            throw new BindException("cannot start the demo LLM server on 127.0.0.1:" + port
                    + " (port in use?); pick another with --port or use 0 for any free port");
        }
        server.setExecutor(executor);
        server.createContext("/v1/complete", this::complete);
        server.createContext("/health", exchange -> {
            try (exchange) {
                respond(exchange, 200, "{}");
            }
        });
        server.start();
    }

    /** The completion endpoint. */
    java.net.URI uri() {
        return java.net.URI.create("http://127.0.0.1:" + port() + "/v1/complete");
    }

    int port() {
        return server.getAddress().getPort();
    }

    long rejected() {
        return rejected.get();
    }

    /** Every request served so far, to anyone: {when it was counted ({@link System#nanoTime()}), tokens}. */
    java.util.List<long[]> served() {
        lock.lock();
        try {
            return served.stream().map(long[]::clone).toList();
        } finally {
            lock.unlock();
        }
    }

    private void complete(HttpExchange exchange) throws IOException {
        try (exchange) {
            exchange.getRequestBody().readAllBytes();
            int tokens = ThreadLocalRandom.current().nextInt(minTokens, maxTokens + 1);
            String sent = exchange.getRequestHeaders().getFirst("X-Sent-At");
            long at = sent != null ? Long.parseLong(sent) : System.nanoTime();
            boolean ok;
            long retryAfter = 0;
            lock.lock();
            try {
                ok = fits(at, tokens);
                if (ok) {
                    long[] entry = recent.computeIfAbsent(at, t -> new long[2]);
                    entry[0]++;
                    entry[1] += tokens;
                    served.add(new long[] {at, tokens});
                    recent.headMap(System.nanoTime() - 4 * windowNanos).clear();
                } else {
                    retryAfter = fitsIn(tokens);
                    rateLimitHeaders(exchange);
                }
            } finally {
                lock.unlock();
            }
            if (!ok) {
                rejected.incrementAndGet();
                retryAfterHeaders(exchange, retryAfter);
                respond(exchange, 429, "{\"error\":\"rate limit exceeded\"}");
                return;
            }
            try {
                Thread.sleep(latency);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            lock.lock();
            try {
                rateLimitHeaders(exchange);
            } finally {
                lock.unlock();
            }
            respond(exchange, 200, "{\"total_tokens\":" + tokens + "}");
        }
    }

    /** Whether one more request at {@code at} keeps every window containing it within both limits. */
    private boolean fits(long at, int tokens) {
        // The sums only change at request times, so windows starting at those times (and at `at`) suffice.
        for (long start : recent.subMap(at - windowNanos, false, at, true).keySet()) {
            if (!fitsIn(start, at, tokens)) {
                return false;
            }
        }
        return fitsIn(at, at, tokens);
    }

    private boolean fitsIn(long start, long at, int tokens) {
        long count = 1;
        long sum = tokens;
        for (long[] entry : recent.subMap(start, true, start + windowNanos, false).values()) {
            count += entry[0];
            sum += entry[1];
        }
        return count <= requestsPerWindow && sum <= tokensPerWindow;
    }

    /** OpenAI's headers, as of now (under the lock): limits, what remains, when the window is empty. */
    private void rateLimitHeaders(HttpExchange exchange) {
        long now = System.nanoTime();
        long count = 0;
        long sum = 0;
        for (long[] entry : recent.subMap(now - windowNanos, false, Long.MAX_VALUE, true).values()) {
            count += entry[0];
            sum += entry[1];
        }
        long reset = recent.isEmpty() ? 0 : Math.max(0, recent.lastKey() + windowNanos - now);
        var headers = exchange.getResponseHeaders();
        headers.set("x-ratelimit-limit-requests", Integer.toString(requestsPerWindow));
        headers.set("x-ratelimit-limit-tokens", Integer.toString(tokensPerWindow));
        headers.set("x-ratelimit-remaining-requests", Long.toString(Math.max(0, requestsPerWindow - count)));
        headers.set("x-ratelimit-remaining-tokens", Long.toString(Math.max(0, tokensPerWindow - sum)));
        headers.set("x-ratelimit-reset-requests", goDuration(reset));
        headers.set("x-ratelimit-reset-tokens", goDuration(reset));
    }

    /** {@code retry-after} in whole seconds and {@code retry-after-ms}, both rounded up (at least 1). */
    private static void retryAfterHeaders(HttpExchange exchange, long nanos) {
        var headers = exchange.getResponseHeaders();
        headers.set("retry-after", Long.toString(Math.max(1, (nanos + 999_999_999) / 1_000_000_000)));
        headers.set("retry-after-ms", Long.toString(Math.max(1, (nanos + 999_999) / 1_000_000)));
    }

    /** Nanoseconds from now until one more request of {@code tokens} fits, as entries leave the window. */
    private long fitsIn(int tokens) {
        long now = System.nanoTime();
        long count = 1;
        long sum = tokens;
        var live = recent.subMap(now - windowNanos, false, Long.MAX_VALUE, true);
        for (long[] entry : live.values()) {
            count += entry[0];
            sum += entry[1];
        }
        for (var entry : live.entrySet()) {
            if (count <= requestsPerWindow && sum <= tokensPerWindow) {
                break;
            }
            count -= entry.getValue()[0];
            sum -= entry.getValue()[1];
            if (count <= requestsPerWindow && sum <= tokensPerWindow) {
                return Math.max(0, entry.getKey() + windowNanos - now);
            }
        }
        return 0;
    }

    /** A Go-style duration as OpenAI writes them: {@code 850ms}, {@code 1.250s}. */
    private static String goDuration(long nanos) {
        return nanos < 1_000_000_000L
                ? ((nanos + 999_999) / 1_000_000) + "ms"
                : String.format(java.util.Locale.ROOT, "%.3fs", nanos / 1e9);
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
