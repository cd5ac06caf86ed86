package dev.concurry.limit;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * What the provider last said about one key of a set, as this JVM's set object heard it (SPEC F4), in
 * {@link LimitStats.KeyStats#provider()}. What the set enforces because of it — the budget until the
 * reset, the pause — is in the shared state and shows in {@link LimitStats.KeyStats#available()}.
 *
 * <pre>{@code
 * ProviderFeedback heard = limits.stats().key("tokens").provider();
 * if (heard.limitDiffers()) log.warn("the provider allows {} tokens, we configured {}", heard.limit(), capacity);
 * }</pre>
 *
 * @param limit        the limit the provider last reported
 * @param remaining    what it last said remains
 * @param resetIn      how long until that reset, from the moment of the snapshot
 * @param pausedFor    how long the pause it last asked for still lasts (zero: none)
 * @param limitDiffers whether the reported limit differs from the configured capacity (for the same window)
 * @param adopted      whether the set counts against the reported limit instead of the configured one
 */
public record ProviderFeedback(OptionalDouble limit, OptionalDouble remaining, Optional<Duration> resetIn,
        Duration pausedFor, boolean limitDiffers, boolean adopted) {

    /** Nothing heard. */
    public static final ProviderFeedback NONE = new ProviderFeedback(OptionalDouble.empty(), OptionalDouble.empty(),
            Optional.empty(), Duration.ZERO, false, false);

    public ProviderFeedback {
        Objects.requireNonNull(limit, "limit");
        Objects.requireNonNull(remaining, "remaining");
        Objects.requireNonNull(resetIn, "resetIn");
        Objects.requireNonNull(pausedFor, "pausedFor");
    }
}
