package dev.concurry.limit;

import java.util.List;
import java.util.Map;

/**
 * A snapshot of a {@link LimitPool}: each set's own {@link LimitStats} and how many grants each set
 * served through the pool (SPEC L15, L21, L22).
 *
 * <pre>{@code
 * LimitPoolStats stats = regions.poolStats();
 * for (LimitPoolStats.SetStats set : stats.sets()) {
 *     log.info("{} served {} grants, {} tpm left", set.config().get("region"), set.dispatched(),
 *             set.stats().key("tpm").available());
 * }
 * log.info("{} grants failed over", stats.failovers());
 * }</pre>
 *
 * <p>Each set's snapshot is consistent on its own; the sets are read one after the other, not
 * atomically together.
 *
 * @param balancing  the pool's balancing strategy
 * @param sets       one entry per set, in the order the sets were added to the pool
 * @param dispatched grants the pool handed out (the sum of every set's {@link SetStats#dispatched()})
 * @param failovers  grants served by another set than the one the balancing strategy preferred
 * @param timedOut   {@code acquire(request, timeout)} calls on the pool that timed out
 * @param rejected   {@code tryAcquire} calls on the pool that found no set with room (each set's own
 *                   {@link LimitStats#rejected()} also counts the pool's vain tries of that set)
 */
public record LimitPoolStats(PoolBalancing balancing, List<SetStats> sets, long dispatched, long failovers,
        long timedOut, long rejected) {

    public LimitPoolStats {
        sets = List.copyOf(sets);
    }

    /** A snapshot without a rejection count (reported as 0). */
    public LimitPoolStats(PoolBalancing balancing, List<SetStats> sets, long dispatched, long failovers,
            long timedOut) {
        this(balancing, sets, dispatched, failovers, timedOut, 0);
    }

    /**
     * One set of the pool.
     *
     * @param name       the set's {@link LimitSet#name()}
     * @param config     the set's {@link LimitSet#config()}
     * @param stats      the set's own snapshot (it also counts acquisitions made on the set directly,
     *                   and grants the pool won on several sets at once and gave back at once)
     * @param dispatched grants this set served through the pool
     */
    public record SetStats(String name, Map<String, String> config, LimitStats stats, long dispatched) {
        public SetStats {
            config = Map.copyOf(config);
        }
    }
}
