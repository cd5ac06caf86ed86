package dev.concurry.limit;

import dev.concurry.limit.spi.FamilyDefinition;
import dev.concurry.limit.spi.FamilyStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.limit.spi.SetAlgorithms;
import dev.concurry.time.MonotonicClock;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The in-memory backend's keyed families (SPEC L24): one {@link InMemoryStore} per key, all the stores of
 * a tier sharing its {@link SetAlgorithms}, so that a key costs only its own state. The state is the
 * store: the family drops a key only once it is back to initial.
 */
final class InMemoryFamily implements FamilyStore {
    private final MonotonicClock clock;
    /** Every key's time counts from here, so that fixed windows are aligned alike (see {@link InMemoryStore}). */
    private final long epoch;
    /** Per tier, by the identity of its limits list (every key's definition holds one of these lists). */
    private final Map<List<Limit>, SetAlgorithms> algorithms = new IdentityHashMap<>();

    InMemoryFamily(FamilyDefinition family, MonotonicClock clock) {
        this.clock = clock;
        this.epoch = clock.nanoTime();
        for (List<Limit> tier : family.tiers()) {
            algorithms.put(tier, new SetAlgorithms(tier));
        }
    }

    @Override
    public LimitStore open(Object key, LimitSetDefinition definition) {
        SetAlgorithms tier = algorithms.get(definition.limits());
        return new InMemoryStore(tier != null ? tier : new SetAlgorithms(definition.limits()), clock, epoch);
    }

    @Override
    public boolean stateOutlivesStore() {
        return false;
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return "in-memory family on " + clock;
    }
}
