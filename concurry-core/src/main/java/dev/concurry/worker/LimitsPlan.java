package dev.concurry.worker;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a pool's limit options into the limiter of each worker (SPEC L20): a given limiter is shared
 * as is (after checking that it suits the mode); plain specs become one set of the mode's backend,
 * shared, or one private set per worker; nothing gives the empty set. Sets built here are owned by
 * the pool and closed with it.
 */
final class LimitsPlan implements AutoCloseable {
    private final PoolConfig config;
    private final Limiter shared;
    private final List<LimitSet> owned = new ArrayList<>();

    private LimitsPlan(PoolConfig config, Limiter shared) {
        this.config = config;
        this.shared = shared;
    }

    static LimitsPlan of(PoolConfig config) {
        if (config.limiter() != null) {
            checkSuitsMode(config.mode(), config.limiter());
            return new LimitsPlan(config, config.limiter());
        }
        if (config.specs().isEmpty()) {
            return new LimitsPlan(config, LimitSet.empty());
        }
        LimitsPlan plan = new LimitsPlan(config, null);
        if (config.sharedLimits()) {
            return new LimitsPlan(config, plan.build());
        }
        return plan;
    }

    /** The limiter of the next worker: the shared one, or a new private set. */
    Limiter nextWorker() {
        return shared != null ? shared : build();
    }

    /** How each child of a PROCESS pool gets its limiter (nothing is built here for private sets). */
    ChildLimits forChildren() {
        if (shared == null) {
            return new ChildLimits.Private(config.specs());
        }
        if (shared == LimitSet.empty()) {
            return new ChildLimits.None();
        }
        throw new UnsupportedOperationException("a shared LimitSet for Mode.PROCESS needs the shared-memory backend");
    }

    private LimitSet build() {
        LimitSet set = LimitSet.builder().addAll(config.specs()).backend(backendFor(config.mode())).build();
        owned.add(set);
        return set;
    }

    /**
     * Refuses a limiter its workers could not share: process workers need a set whose backend spans
     * processes. Package-private so that the rule is tested before process mode exists.
     */
    static void checkSuitsMode(Mode mode, Limiter limiter) {
        if (mode != Mode.PROCESS) {
            return;
        }
        if (limiter instanceof LimitSet set) {
            if (!set.backend().crossProcess()) {
                throw new IllegalArgumentException("limit set '" + set.name() + "' uses the " + set.backend().name()
                        + " backend, which process workers (Mode.PROCESS) cannot share: build it with"
                        + " .backend(Backends.sharedMemory(...)) (one host) or a distributed backend such as Redis,"
                        + " or pass plain specs with limits(Limit...)");
            }
            return;
        }
        throw new IllegalArgumentException("process workers (Mode.PROCESS) need a LimitSet whose backend spans"
                + " processes (Backends.sharedMemory(...)); cannot verify " + limiter.getClass().getName());
    }

    /** The backend that plain specs get in {@code mode}. */
    static LimitBackend backendFor(Mode mode) {
        if (mode == Mode.PROCESS) {
            throw new UnsupportedOperationException("plain limit specs for Mode.PROCESS need the shared-memory"
                    + " backend, which is not available yet");
        }
        return Backends.inMemory();
    }

    /** Closes the sets this plan built; sets given by the user are theirs to close. */
    @Override
    public void close() {
        owned.forEach(LimitSet::close);
    }
}
