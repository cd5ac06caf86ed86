package dev.concurry.spring;

import dev.concurry.limit.LimitException;
import dev.concurry.limit.Refusal;
import dev.concurry.limit.Request;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * A {@link Limited @Limited} call whose limits were not granted in time: nothing was taken and the
 * method did not run. Its cause is the core's {@code AcquireTimeoutException} when the call waited.
 *
 * <pre>{@code
 * try {
 *     summarizer.summarize(text, null);
 * } catch (LimitRejectedException e) {
 *     log.info("{} refused {} after {}", e.limiter(), e.amounts(), e.waited());
 * }
 * }</pre>
 */
public class LimitRejectedException extends LimitException {
    private static final long serialVersionUID = 1L;

    private final String limiter;
    private final Map<String, Double> amounts;
    private final Duration waited;
    private final transient Refusal refusal;

    /**
     * A rejection.
     *
     * @param limiter the bean name of the limit set or pool
     * @param request what the call asked for
     * @param waited  how long it was allowed to wait ({@link Duration#ZERO}: it failed fast)
     * @param refusal why (short keys, when it could be granted), or {@code null} if unknown
     * @param cause   the core's timeout, or {@code null} when it failed fast
     */
    public LimitRejectedException(String limiter, Request request, Duration waited, Refusal refusal, Throwable cause) {
        super("'" + limiter + "' did not grant " + request.amounts()
                + (waited.isZero() ? " now (fail fast)" : " within " + waited)
                + (refusal != null ? ": " + refusal : ""), cause);
        this.limiter = limiter;
        this.amounts = request.amounts();
        this.waited = waited;
        this.refusal = refusal;
    }

    /** Why it was not granted: the keys that were short and when it could be (SPEC L25), when known. */
    public Optional<Refusal> refusal() {
        return Optional.ofNullable(refusal);
    }

    /** The bean name of the limit set or pool that did not grant the request. */
    public String limiter() {
        return limiter;
    }

    /** The amounts requested, by key. */
    public Map<String, Double> amounts() {
        return amounts;
    }

    /** How long the call was allowed to wait; zero when it failed fast. */
    public Duration waited() {
        return waited;
    }
}
