package dev.concurry.spring;

import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.worker.PoolStats;
import dev.concurry.worker.TaskExecutor;
import dev.concurry.worker.WorkerPool;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.springframework.beans.factory.ListableBeanFactory;

/**
 * The limit sets, limit pools and worker pools of the application by bean name: those declared under
 * {@code concurry.*} and those the application made itself. Read at each call (beans only, no cache),
 * for the endpoint, the health indicator and the meters.
 */
final class ContextLimiters {
    private final ListableBeanFactory beans;

    ContextLimiters(ListableBeanFactory beans) {
        this.beans = beans;
    }

    /** Limit set beans, plus the sets of pool beans that are not beans themselves (named by the set). */
    Map<String, LimitSet> sets() {
        Map<String, LimitSet> sets = new LinkedHashMap<>(beans.getBeansOfType(LimitSet.class));
        Set<LimitSet> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        seen.addAll(sets.values());
        for (LimitPool pool : pools().values()) {
            for (LimitSet set : pool.sets()) {
                if (seen.add(set)) {
                    sets.putIfAbsent(set.name(), set);
                }
            }
        }
        return sets;
    }

    Map<String, LimitPool> pools() {
        return beans.getBeansOfType(LimitPool.class);
    }

    /** Worker pools and task executors, as their stats. */
    Map<String, Supplier<PoolStats>> workerPools() {
        Map<String, Supplier<PoolStats>> pools = new LinkedHashMap<>();
        beans.getBeansOfType(TaskExecutor.class).forEach((name, executor) -> pools.put(name, executor::stats));
        for (Map.Entry<String, ?> e : beans.getBeansOfType(WorkerPool.class).entrySet()) {
            WorkerPool<?> pool = (WorkerPool<?>) e.getValue();
            pools.put(e.getKey(), pool::stats);
        }
        return pools;
    }

    /**
     * Whether the set's state lives on a server that may be unreachable: not in this JVM, not in a file
     * of this host.
     */
    static boolean distributed(LimitSet set) {
        return set.backend().crossProcess() && !BackendType.SHARED_MEMORY.id().equals(set.backend().name());
    }
}
