package dev.concurry.redis;

import dev.concurry.limit.LimitException;

/**
 * Thrown when a {@link RedisBackend} set cannot reach Redis, or Redis does not answer within the
 * command timeout (SPEC L18: fail closed by default). The caller holds nothing: a request that reached
 * Redis and ran there before its answer was lost is given back as soon as Redis answers again. The
 * backend recovers by itself when Redis comes back: retry later, or build the backend with
 * {@link RedisBackend.Builder#failOpen(boolean) failOpen(true)} to grant without limits meanwhile.
 *
 * <pre>{@code
 * try (Acquisition acq = shared.acquire(Request.of("requests", 1))) {
 *     call();
 * } catch (RedisUnavailableException e) {
 *     // "Redis at redis://10.0.0.5:6379 is unreachable ..."; retry after a pause
 * }
 * }</pre>
 */
public class RedisUnavailableException extends LimitException {
    private static final long serialVersionUID = 1L;

    public RedisUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
