package dev.concurry.worker;

import dev.concurry.limit.Backends;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.PoolBalancing;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.spi.LimitSetDefinition;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * How a remote worker (a process worker's child JVM, a cluster member) gets its limiter
 * ({@link Worker#limits()}, SPEC W3, L20): none (the empty set), a private in-memory set of its own
 * ({@code sharedLimits(false)}: each worker its own quota), a shared set re-opened from its description
 * and portable backend, or a pool of such sets.
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

    /** The pool's cross-process set, re-opened in the child from its definition and portable backend. */
    record Shared(LimitSetDefinition definition, LimitBackend backend) implements ChildLimits {
        @Override
        public Limiter open() {
            return LimitSet.builder().name(definition.name()).addAll(definition.limits())
                    .config(definition.config()).backend(backend).build();
        }

        @Override
        public void close(Limiter limiter) {
            ChildLimits.super.close(limiter);
            closeBackend(backend);
        }
    }

    /** A {@link LimitPool} of cross-process sets, re-opened set by set with the same balancing. */
    record Pool(List<Shared> sets, PoolBalancing balancing) implements ChildLimits {
        public Pool {
            sets = List.copyOf(sets);
        }

        @Override
        public Limiter open() {
            List<LimitSet> opened = new ArrayList<>(sets.size());
            try {
                for (Shared set : sets) {
                    opened.add((LimitSet) set.open());
                }
                return LimitPool.builder().addAll(opened).balancing(balancing).build();
            } catch (RuntimeException | Error e) {
                opened.forEach(LimitSet::close);
                throw e;
            }
        }

        @Override
        public void close(Limiter limiter) {
            if (limiter instanceof LimitPool pool) {
                pool.sets().forEach(LimitSet::close);       // the sets this child opened for its pool
            }
            sets.forEach(set -> closeBackend(set.backend()));
        }
    }

    /** A backend made in the child for the child (a client connection it opened) is the child's to close. */
    private static void closeBackend(LimitBackend backend) {
        if (backend instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                org.slf4j.LoggerFactory.getLogger(ChildLimits.class).warn("cannot close {}: {}", backend, e.toString());
            }
        }
    }
}
