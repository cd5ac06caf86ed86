package dev.concurry.hazelcast;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Fails calls that pass their deadline with a {@link TimeoutException}, checked by one daemon thread every
 * {@link #TICK_NANOS}. A timer task per call ({@code CompletableFuture.orTimeout}) would wake the timer
 * thread on every call, which on a busy machine costs as much as the round trip itself; a deadline is a
 * command timeout of seconds, so checking it a few times per second is precise enough.
 */
final class Deadlines {
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(25);
    private static final Map<CompletableFuture<?>, Long> PENDING = new ConcurrentHashMap<>();
    private static final AtomicBoolean STARTED = new AtomicBoolean();

    private Deadlines() {
    }

    /** Fails {@code call} with a {@link TimeoutException} if it is not complete at {@code deadlineNanos}. */
    static void watch(CompletableFuture<?> call, long deadlineNanos) {
        PENDING.put(call, deadlineNanos);
        call.whenComplete((value, failure) -> PENDING.remove(call));
        if (!STARTED.get() && STARTED.compareAndSet(false, true)) {
            Thread.ofPlatform().daemon(true).name("concurry-hazelcast-deadlines").start(Deadlines::run);
        }
    }

    private static void run() {
        while (true) {
            LockSupport.parkNanos(TICK_NANOS);
            long now = System.nanoTime();
            PENDING.forEach((call, deadline) -> {
                if (now - deadline >= 0) {
                    call.completeExceptionally(new TimeoutException("no answer before the deadline"));
                }
            });
        }
    }
}
