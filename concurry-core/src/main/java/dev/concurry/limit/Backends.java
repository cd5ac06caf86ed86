package dev.concurry.limit;

import dev.concurry.time.MonotonicClock;
import java.util.Objects;

/**
 * The backends built into the core.
 *
 * <pre>{@code
 * LimitSet limits = LimitSet.builder()
 *         .add(RateLimit.of("requests", 500, Duration.ofMinutes(1)))
 *         .backend(Backends.inMemory())                 // the default
 *         .build();
 * }</pre>
 */
public final class Backends {
    private Backends() {
    }

    /** State in this JVM, shared by any number of platform or virtual threads (SPEC L16). */
    public static LimitBackend inMemory() {
        return inMemory(MonotonicClock.system());
    }

    /** The in-memory backend on the given clock (a {@link dev.concurry.time.ManualClock} in tests). */
    public static LimitBackend inMemory(MonotonicClock clock) {
        Objects.requireNonNull(clock, "clock");
        return new LimitBackend() {
            @Override
            public String name() {
                return "in-memory";
            }

            @Override
            public boolean crossProcess() {
                return false;
            }

            @Override
            public LimitSet create(LimitSetDefinition definition) {
                return new InMemoryLimitSet(definition, clock, this);
            }

            @Override
            public String toString() {
                return "Backends.inMemory(" + clock + ")";
            }
        };
    }
}
