package dev.concurry.limit;

import dev.concurry.time.MonotonicClock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The in-memory backend (SPEC L16): the {@link LimitEngine} with its state in a plain array guarded by
 * one {@link ReentrantLock} per set (never {@code synchronized}, so virtual threads do not pin).
 */
final class InMemoryLimitSet extends LimitEngine {
    private final ReentrantLock lock = new ReentrantLock();

    InMemoryLimitSet(LimitSetDefinition definition, MonotonicClock clock, LimitBackend backend) {
        super(definition, clock, backend, META);
        this.epoch = clock.nanoTime();
        for (LimitMath m : math) {
            m.init(state, 0);
        }
    }

    @Override
    void lockState() {
        lock.lock();
    }

    @Override
    void unlockState() {
        lock.unlock();
    }
}
