package dev.concurry.examples.llm;

import java.time.Duration;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;

/**
 * A provider that behaves like an LLM API on tier 1: at most 500 requests and 10,000 tokens in the
 * minute before each request (its window is 5% shorter than the client's), answering 429 beyond that;
 * each answer uses 20 to {@code max_tokens} tokens.
 *
 * <p>It runs in the client's JVM, so it counts each request at the moment the client was granted it
 * (header {@code X-Sent-At}, {@code System.nanoTime()}): HTTP queueing on a busy machine then does not
 * move a request into the next minute, which a real provider's distant clock would also not see.
 */
@RestController
class MockProvider {
    private static final double REQUESTS = 500;
    private static final double TOKENS = 10_000;

    private final long windowNanos;
    private final ReentrantLock lock = new ReentrantLock();
    /** Answers by the time they count at: {requests, tokens}. */
    private final NavigableMap<Long, long[]> answered = new TreeMap<>();
    final AtomicLong ok = new AtomicLong();
    final AtomicLong tooMany = new AtomicLong();
    final AtomicLong tokensUsed = new AtomicLong();

    MockProvider(@Value("${example.minute}") Duration minute) {
        this.windowNanos = minute.toNanos() * 95 / 100;
    }

    record CompletionRequest(String prompt, int max_tokens) {
    }

    record Usage(int total_tokens) {
    }

    record CompletionResponse(String text, Usage usage) {
    }

    @PostMapping("/mock/v1/completions")
    ResponseEntity<CompletionResponse> complete(@RequestBody CompletionRequest request,
            @RequestHeader(name = "X-Sent-At", required = false) Long sentAt) {
        int used = ThreadLocalRandom.current().nextInt(20, Math.max(21, request.max_tokens() + 1));
        long at = sentAt != null ? sentAt : System.nanoTime();
        lock.lock();
        try {
            answered.headMap(at - 4 * windowNanos).clear();
            long requests = 1;
            long tokens = used;
            for (long[] earlier : answered.subMap(at - windowNanos, false, at, true).values()) {
                requests += earlier[0];
                tokens += earlier[1];
            }
            if (requests > REQUESTS || tokens > TOKENS) {
                tooMany.incrementAndGet();
                return ResponseEntity.status(HttpStatus.TOO_MANY_REQUESTS).build();
            }
            answered.merge(at, new long[] {1, used}, (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]});
        } finally {
            lock.unlock();
        }
        ok.incrementAndGet();
        tokensUsed.addAndGet(used);
        return ResponseEntity.ok(new CompletionResponse("a summary of " + request.prompt(), new Usage(used)));
    }
}
