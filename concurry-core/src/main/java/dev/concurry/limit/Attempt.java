package dev.concurry.limit;

import java.util.Objects;

/**
 * The outcome of {@link Limiter#attempt(Request)}: the acquisition, or the {@link Refusal} that says
 * why not. Never blocks, like {@link Limiter#tryAcquire(Request)}, which is its short form.
 *
 * <pre>{@code
 * if (limits.attempt(request) instanceof Attempt.Refused refused) {
 *     log.info("refused: {}", refused.refusal());          // "tokens: 40 of 100 available, grantable in 1.2 s"
 * }
 * }</pre>
 */
public sealed interface Attempt permits Attempt.Granted, Attempt.Refused {

    /** Granted: close the acquisition as usual. */
    record Granted(Acquisition acquisition) implements Attempt {
        public Granted {
            Objects.requireNonNull(acquisition, "acquisition");
        }
    }

    /** Refused: nothing was taken. */
    record Refused(Refusal refusal) implements Attempt {
        public Refused {
            Objects.requireNonNull(refusal, "refusal");
        }
    }
}
