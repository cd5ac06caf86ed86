package dev.concurry.worker;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.Limiter;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a pool's limit options into the limiter of each worker (SPEC L20): a given limiter is shared
 * as is (after checking that it suits the mode); plain specs become one set of the mode's backend,
 * shared, or one private set per worker; nothing gives the empty set. Sets built here are owned by
 * the pool and closed with it.
 *
 * <p>Remote workers re-open the shared set where they live ({@link #forChildren()}): a process worker
 * with the set's own serializable backend, a cluster worker with the backend its
 * {@link WorkerCluster} names ({@link WorkerCluster#memberBackend}), which also decides what plain specs
 * become in a cluster pool ({@link WorkerCluster#poolLimits}).
 */
final class LimitsPlan implements AutoCloseable {
    private final PoolConfig config;
    private final Limiter shared;
    private final List<LimitSet> owned = new ArrayList<>();
    /** PROCESS with shared plain specs: the directory of the shared-memory file, deleted at close. */
    private java.nio.file.Path sharedDir;
    /** CLUSTER: the backend with which each member re-opens each shared set (a set, or a pool's sets). */
    private final java.util.Map<LimitSet, LimitBackend> memberBackends = new java.util.IdentityHashMap<>();

    private LimitsPlan(PoolConfig config, Limiter shared) {
        this.config = config;
        this.shared = shared;
    }

    static LimitsPlan of(PoolConfig config) {
        if (config.limiter() != null) {
            checkSuitsMode(config.mode(), config.limiter());
            return new LimitsPlan(config, config.limiter()).forMembers();
        }
        if (config.specs().isEmpty()) {
            return new LimitsPlan(config, LimitSet.empty());
        }
        LimitsPlan plan = new LimitsPlan(config, null);
        if (config.sharedLimits()) {
            plan = plan.withShared(plan.build());
            try {
                return plan.forMembers();
            } catch (RuntimeException | Error e) {
                plan.close();
                throw e;
            }
        }
        return plan;
    }

    private LimitsPlan withShared(LimitSet set) {
        LimitsPlan plan = new LimitsPlan(config, set);
        plan.owned.addAll(owned);
        plan.sharedDir = sharedDir;
        return plan;
    }

    /** CLUSTER: asks the cluster how members re-open each shared set (it refuses what they cannot share). */
    private LimitsPlan forMembers() {
        if (config.mode() == Mode.CLUSTER) {
            for (LimitSet set : sharedSets(shared)) {
                memberBackends.put(set, config.cluster().memberBackend(set));
            }
        }
        return this;
    }

    /** The sets a shared limiter is made of: itself, a pool's sets, or none (the empty set). */
    private static List<LimitSet> sharedSets(Limiter limiter) {
        if (limiter instanceof LimitPool pool) {
            return pool.sets();
        }
        if (limiter instanceof LimitSet set && set != LimitSet.empty()) {
            return List.of(set);
        }
        return List.of();
    }

    /** The limiter of the next worker: the shared one, or a new private set. */
    Limiter nextWorker() {
        return shared != null ? shared : build();
    }

    /**
     * How each remote worker (PROCESS child, CLUSTER member) gets its limiter: nothing (the empty set),
     * private specs (each builds its own in-memory set: its own quota), or the shared set's definition
     * and a serializable backend that reaches the same state from where the worker lives: the set's own
     * (a process: the same shared-memory file) or the cluster's {@link WorkerCluster#memberBackend}.
     */
    ChildLimits forChildren() {
        if (shared == null) {
            return new ChildLimits.Private(config.specs());
        }
        if (shared == LimitSet.empty()) {
            return new ChildLimits.None();
        }
        if (shared instanceof LimitPool pool) {
            List<ChildLimits.Shared> sets = new ArrayList<>();
            for (LimitSet set : pool.sets()) {
                sets.add(reopened(set));
            }
            return new ChildLimits.Pool(sets, pool.balancing());
        }
        return reopened((LimitSet) shared); // checkSuitsMode refused anything else
    }

    /** {@code set} as a remote worker re-opens it: its definition and the backend that reaches its state. */
    private ChildLimits.Shared reopened(LimitSet set) {
        LimitBackend backend = memberBackends.get(set);
        if (backend == null) {
            backend = set.backend().portable().orElseThrow(() -> notPortable(set));   // checked at init()
        }
        return new ChildLimits.Shared(new LimitSetDefinition(set.name(), set.limits(), set.config()), backend);
    }

    private LimitSet build() {
        LimitSet set = config.mode() == Mode.CLUSTER
                ? config.cluster().poolLimits(config.name(), config.specs())
                : LimitSet.builder().addAll(config.specs()).backend(backendFor(config.mode())).build();
        owned.add(set);
        return set;
    }

    /**
     * Refuses a limiter its workers could not share: process workers need a set whose backend spans
     * processes. Package-private so that the rule is tested before process mode exists.
     */
    static void checkSuitsMode(Mode mode, Limiter limiter) {
        if (mode != Mode.CLUSTER && mode != Mode.PROCESS) {
            return;
        }
        if (!(limiter instanceof LimitSet) && !(limiter instanceof LimitPool)) {
            throw new IllegalArgumentException((mode == Mode.PROCESS
                    ? "process workers (Mode.PROCESS)"
                    : "cluster workers (Mode.CLUSTER)") + " need a LimitSet or LimitPool that their "
                    + (mode == Mode.PROCESS ? "child JVMs" : "members") + " can re-open; cannot share "
                    + limiter.getClass().getName());
        }
        if (mode == Mode.CLUSTER) {
            return; // the cluster decides, set by set: forMembers()
        }
        for (LimitSet set : sharedSets(limiter)) {
            if (set.backend().portable().isEmpty()) {
                throw notPortable(set);
            }
        }
    }

    private static IllegalArgumentException notPortable(LimitSet set) {
        String why = set.backend().crossProcess()
                ? " backend, which spans processes but cannot be re-opened in a worker's child JVM as built (built"
                        + " around a client object, or on a test clock): build it from its address instead, e.g."
                        + " RedisBackend.builder(RedisURI)"
                : " backend, which process workers (Mode.PROCESS) cannot share: build it with"
                        + " .backend(Backends.sharedMemory(...)) (one host) or a distributed backend such as Redis,"
                        + " or pass plain specs with limits(Limit...)";
        return new IllegalArgumentException("limit set '" + set.name() + "' uses the " + set.backend().name() + why);
    }

    /**
     * The backend that plain specs get: in memory, or for PROCESS (shared by the pool) a shared-memory
     * file in a new temporary directory, which the pool deletes when it closes.
     */
    private LimitBackend backendFor(Mode mode) {
        if (mode != Mode.PROCESS) {
            return Backends.inMemory();
        }
        try {
            sharedDir = java.nio.file.Files
                    .createTempDirectory("concurry-" + config.name().replaceAll("[^A-Za-z0-9_.-]", "_"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot create the shared-memory limits file of pool '"
                    + config.name() + "'", e);
        }
        return Backends.sharedMemory(sharedDir.resolve("limits"));
    }

    /** Closes the sets this plan built; sets given by the user are theirs to close. */
    @Override
    public void close() {
        owned.forEach(LimitSet::close);
        if (sharedDir != null) {
            try {
                java.nio.file.Files.deleteIfExists(sharedDir.resolve("limits"));
                java.nio.file.Files.deleteIfExists(sharedDir);
            } catch (java.io.IOException e) {
                org.slf4j.LoggerFactory.getLogger(LimitsPlan.class).warn("cannot delete {}: {}", sharedDir,
                        e.toString());
            }
        }
    }
}
