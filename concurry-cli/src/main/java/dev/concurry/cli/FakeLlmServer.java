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
 * absorbs the moments between a client's grant and its send. {@code /health} answers 200 without counting.
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

    FakeLlmServer(int port, Duration window, int requestsPerWindow, int tokensPerWindow,
                  int minTokens, int maxTokens, Duration latency) throws IOException {
        this.windowNanos = window.toNanos() * 95 / 100;
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

    private void complete(HttpExchange exchange) throws IOException {
        try (exchange) {
            exchange.getRequestBody().readAllBytes();
            int tokens = ThreadLocalRandom.current().nextInt(minTokens, maxTokens + 1);
            String sent = exchange.getRequestHeaders().getFirst("X-Sent-At");
            long at = sent != null ? Long.parseLong(sent) : System.nanoTime();
            boolean ok;
            lock.lock();
            try {
                ok = fits(at, tokens);
                if (ok) {
                    long[] entry = recent.computeIfAbsent(at, t -> new long[2]);
                    entry[0]++;
                    entry[1] += tokens;
                    recent.headMap(System.nanoTime() - 4 * windowNanos).clear();
                }
            } finally {
                lock.unlock();
            }
            if (!ok) {
                rejected.incrementAndGet();
                respond(exchange, 429, "{\"error\":\"rate limit exceeded\"}");
                return;
            }
            try {
                Thread.sleep(latency);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
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
