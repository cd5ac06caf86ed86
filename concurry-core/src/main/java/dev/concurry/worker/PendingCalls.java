package dev.concurry.worker;

import dev.concurry.worker.ProcessProtocol.Frame;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The calls sent to one remote worker and not answered yet, and the worker's death: once the worker is
 * lost, every waiting call fails with {@link WorkerDiedException} and new ones fail at once, so nothing
 * waits forever (SPEC W2, W8).
 */
final class PendingCalls {
    private final Map<Long, CompletableFuture<Frame>> waiting = new ConcurrentHashMap<>();
    private final CompletableFuture<WorkerDeath> death = new CompletableFuture<>();

    CompletableFuture<WorkerDeath> death() {
        return death;
    }

    /** The future of call {@code id}'s answer; already failed if the worker is gone. */
    CompletableFuture<Frame> open(long id) {
        CompletableFuture<Frame> response = new CompletableFuture<>();
        waiting.put(id, response);
        WorkerDeath dead = death.getNow(null);
        if (dead != null && waiting.remove(id) != null) {
            response.completeExceptionally(dead.exception("before running call #" + id));
        }
        return response;
    }

    /** Hands call {@code id} its answer; ignored if the call no longer waits (its worker was lost first). */
    void answer(long id, Frame frame) {
        CompletableFuture<Frame> response = waiting.remove(id);
        if (response != null) {
            response.complete(frame);
        }
    }

    /**
     * Records the death, once, and fails every waiting call. Returns how many calls it failed, or -1 if
     * the worker was already dead.
     */
    int die(WorkerDeath dead) {
        if (!death.complete(dead)) {
            return -1;
        }
        int failed = 0;
        for (Long id : List.copyOf(waiting.keySet())) {
            CompletableFuture<Frame> response = waiting.remove(id);
            if (response != null) {
                response.completeExceptionally(dead.exception("while running call #" + id));
                failed++;
            }
        }
        return failed;
    }
}
