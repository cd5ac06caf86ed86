package dev.concurry.tck;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.time.ManualClock;

/** Keyed families on the in-memory backend pass the keyed TCK (SPEC L24). */
class InMemoryKeyedLimitsTckTest extends KeyedLimitsTck {
    @Override
    protected LimitBackend backend(ManualClock clock) {
        return Backends.inMemory(clock);
    }
}
