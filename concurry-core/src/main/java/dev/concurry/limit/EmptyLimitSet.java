package dev.concurry.limit;

import dev.concurry.limit.spi.Probe;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The set with no limits (SPEC L14): grants everything at once, ignores keys and usage, allocates
 * nothing for {@code acquire} and {@code tryAcquire}. Every worker without limits gets one.
 */
final class EmptyLimitSet implements LimitSet, Probe {
    static final EmptyLimitSet INSTANCE = new EmptyLimitSet(new LimitSetDefinition("empty", List.of(), Map.of()));

    /** Works in every worker mode: there is no state to share. */
    private static final LimitBackend NONE = new LimitBackend() {
        @Override
        public String name() {
            return "none";
        }

        @Override
        public boolean crossProcess() {
            return true;
        }

        /** Never called: the builder makes an {@link EmptyLimitSet} for a set without limits. */
        @Override
        public LimitStore open(LimitSetDefinition definition) {
            throw new UnsupportedOperationException("a set without limits has no state to store: " + definition);
        }
    };

    private final LimitSetDefinition definition;
    private final Acquisition acquisition;
    private final Optional<Acquisition> present;

    EmptyLimitSet(LimitSetDefinition definition) {
        this.definition = definition;
        this.acquisition = new Acquisition() {
            @Override
            public Acquisition update(String key, double used) {
                return this;
            }

            @Override
            public Acquisition update(Map<String, ? extends Number> usage) {
                return this;
            }

            @Override
            public Acquisition observe(ProviderReport report) {
                return this;
            }

            @Override
            public Map<String, String> config() {
                return definition.config();
            }

            @Override
            public Map<String, Double> granted() {
                return Map.of();
            }

            @Override
            public void close() {
            }

            @Override
            public String toString() {
                return "Acquisition{} from " + definition.name();
            }
        };
        this.present = Optional.of(acquisition);
    }

    @Override
    public Acquisition acquire(Request request) {
        return acquisition;
    }

    @Override
    public Acquisition acquire(Request request, Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        return acquisition;
    }

    @Override
    public Optional<Acquisition> tryAcquire(Request request) {
        return present;
    }

    @Override
    public CompletableFuture<Acquisition> acquireAsync(Request request) {
        return CompletableFuture.completedFuture(acquisition);
    }

    @Override
    public double headroom(Request request) {
        return 1;
    }

    @Override
    public Optional<Refusal> explain(Request request) {
        return Optional.empty();
    }

    @Override
    public Attempt attempt(Request request) {
        return new Attempt.Granted(acquisition);
    }

    @Override
    public void observe(ProviderReport report) {
        java.util.Objects.requireNonNull(report, "report");     // no limits: nothing to hold back
    }

    @Override
    public LimitStats stats() {
        return new LimitStats(Map.of(), 0, 0, 0, 0, 0, 0, 0, 0, LimitStats.ProviderCounts.NONE);
    }

    @Override
    public String name() {
        return definition.name();
    }

    @Override
    public List<Limit> limits() {
        return List.of();
    }

    @Override
    public Map<String, String> config() {
        return definition.config();
    }

    @Override
    public LimitBackend backend() {
        return NONE;
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return "LimitSet.empty(" + definition.name() + ")";
    }
}
