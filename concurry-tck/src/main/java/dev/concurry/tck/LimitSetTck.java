package dev.concurry.tck;

import dev.concurry.limit.LimitBackend;
import dev.concurry.time.ManualClock;
import org.junit.jupiter.api.Nested;

/**
 * The whole behaviour test kit of SPEC section 1 (L19): every {@link dev.concurry.limit.LimitBackend}
 * must pass it unchanged. A backend module adds JUnit Jupiter to its test scope, depends on
 * {@code concurry-tck} (test scope) and subclasses this class once:
 *
 * <pre>{@code
 * class RedisLimitSetTckTest extends LimitSetTck {
 *     @Override
 *     protected LimitBackend backend(ManualClock clock) {
 *         return RedisBackend.of(redisClient, clock);     // every timing decision must use this clock
 *     }
 * }
 * }</pre>
 *
 * <p>Each part of the kit is a nested class (they run as {@code LimitSetTck > Algorithms...}); each is
 * also a public abstract class that can be subclassed alone. Every test builds its sets with
 * {@code LimitSet.builder()...backend(backend(clock)).build()} on a fresh {@link ManualClock} that starts
 * at 0, so timing is exact and instant: a waiter due at T is checked still waiting at T - 1 ns and
 * granted at T. Tests never sleep; where another thread must reach a waiting state they poll
 * {@code stats().waiting()}, bounded by {@link BackendTck#PATIENCE}.
 */
public abstract class LimitSetTck {

    /**
     * The backend under test, reading all of its time from {@code clock}. Called once per set built;
     * may return a new backend each time or the same one (sets on one backend must be independent).
     */
    protected abstract LimitBackend backend(ManualClock clock);

    @Nested
    class TokenBucketAndGcra extends TokenBucketTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class LeakyBucket extends LeakyBucketTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class SlidingWindow extends SlidingWindowTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class FixedWindow extends FixedWindowTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class Requests extends RequestTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class Acquiring extends AcquireTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class Acquisitions extends AcquisitionTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class Pools extends LimitPoolTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class Refusals extends RefusalTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class ProviderFeedback extends FeedbackTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }

    @Nested
    class Statistics extends StatisticsTck {
        @Override
        protected LimitBackend backend(ManualClock clock) {
            return LimitSetTck.this.backend(clock);
        }
    }
}
