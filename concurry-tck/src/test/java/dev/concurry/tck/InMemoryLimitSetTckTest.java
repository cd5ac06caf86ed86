package dev.concurry.tck;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.time.ManualClock;

/** The in-memory backend passes the whole TCK (SPEC L16, L19). */
class InMemoryLimitSetTckTest extends LimitSetTck {
    @Override
    protected LimitBackend backend(ManualClock clock) {
        return Backends.inMemory(clock);
    }
}
