package dev.concurry.tck;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.time.ManualClock;

/**
 * The default {@code LimitBackend.openFamily} (one set per key through {@code open}) passes the keyed TCK
 * (SPEC L24): a backend that implements only {@code open} gets keyed families with the same semantics.
 */
class PerKeySetsKeyedLimitsTckTest extends KeyedLimitsTck {
    @Override
    protected LimitBackend backend(ManualClock clock) {
        LimitBackend inMemory = Backends.inMemory(clock);
        return new LimitBackend() {
            @Override
            public String name() {
                return "sets per key";
            }

            @Override
            public boolean crossProcess() {
                return false;
            }

            @Override
            public LimitStore open(LimitSetDefinition definition) {
                return inMemory.open(definition);
            }
        };
    }
}
