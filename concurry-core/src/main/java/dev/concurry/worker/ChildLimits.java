package dev.concurry.worker;

import dev.concurry.limit.Backends;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.spi.LimitSetDefinition;
import java.io.Serializable;
import java.util.List;

/**
 * How the child of a process worker gets its limiter ({@link Worker#limits()}, SPEC W3, L20): none
 * (the empty set), a private in-memory set of its own ({@code sharedLimits(false)}: each worker its own
 * quota), or a shared set re-opened from its description.
 */
sealed interface ChildLimits extends Serializable {

    /** Builds the child's limiter; {@link #close(Limiter)} it when the child ends. */
    Limiter open();

    default void close(Limiter limiter) {
        if (limiter instanceof LimitSet set && set != LimitSet.empty()) {
            set.close();
        }
    }

    record None() implements ChildLimits {
        @Override
        public Limiter open() {
            return LimitSet.empty();
        }
    }

    record Private(List<Limit> specs) implements ChildLimits {
        public Private {
            specs = List.copyOf(specs);
        }

        @Override
        public Limiter open() {
            return LimitSet.builder().addAll(specs).backend(Backends.inMemory()).build();
        }
    }

    /** The pool's cross-process set, re-opened in the child from its definition and serializable backend. */
    record Shared(LimitSetDefinition definition, LimitBackend backend) implements ChildLimits {
        @Override
        public Limiter open() {
            return LimitSet.builder().name(definition.name()).addAll(definition.limits())
                    .config(definition.config()).backend(backend).build();
        }
    }
}
