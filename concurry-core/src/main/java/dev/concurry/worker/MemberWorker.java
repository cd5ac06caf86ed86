package dev.concurry.worker;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pool's side of one worker living on a cluster member (SPEC W2, {@link Mode#CLUSTER}). It is lost
 * when its member leaves the cluster ({@link WorkerCluster#departure}) or when a call's delivery fails
 * (the outcome is then unknown, so the call is not sent again): every call waiting on it fails at once
 * with {@link WorkerDiedException}, and the pool's slot starts a new worker for the next call.
 */
final class MemberWorker implements WorkerEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(MemberWorker.class);
    /** How long {@link #destroy()} waits, from the request, for the member to confirm the worker is gone. */
    private static final Duration DESTROY_WAIT = Duration.ofSeconds(10);

    private final WorkerCluster cluster;
    final WorkerCluster.Node member;
    private final String workerId;
    private final PendingCalls pending = new PendingCalls();
    private final AtomicReference<CompletableFuture<Void>> stopped = new AtomicReference<>();
    /** When the removal was first requested ({@link System#nanoTime()}); the waits of a pool's workers overlap. */
    private volatile long stopRequestedAt;

    MemberWorker(WorkerCluster cluster, WorkerCluster.Node member, String workerId) {
        this.cluster = cluster;
        this.member = member;
        this.workerId = workerId;
        cluster.departure(member).thenAccept(how -> lost("was lost: its member " + how));
    }

    @Override
    public CompletableFuture<WorkerDeath> death() {
        return pending.death();
    }

    @Override
    public String describe() {
        return "worker " + workerId + " on member " + member.address();
    }

    @Override
    public CompletableFuture<ProcessProtocol.Frame> call(long id, byte[] payload) {
        CompletableFuture<ProcessProtocol.Frame> response = pending.open(id);
        if (response.isDone()) {
            return response;
        }
        cluster.call(member, workerId, id, payload).whenComplete((reply, failure) -> {
            if (failure != null) {
                // Delivery failed or the answer was lost: the call may or may not have run, and the
                // worker's state is unknown. Never re-send; give the worker up and start afresh.
                lost("was lost during call #" + id + " (" + unwrap(failure) + ")");
            } else {
                pending.answer(id, reply.frame(id));
            }
        });
        return response;
    }

    /** Records the death once, fails every waiting call, and removes the worker if its member is still there. */
    void lost(String how) {
        WorkerDeath dead = new WorkerDeath(-1, -1, describe() + " " + how);
        int failed = pending.die(dead);
        if (failed < 0) {
            return;
        }
        if (failed > 0) {
            LOG.warn("{}", dead.description());
        }
        askToExit(); // harmless if the member is gone; otherwise no orphan worker stays behind
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause()
                : failure;
    }

    @Override
    public void cancel(long id) {
        cluster.cancel(member, workerId, id);
    }

    @Override
    public void askToExit() {
        if (stopped.get() != null) {
            return;
        }
        stopRequestedAt = System.nanoTime();
        CompletableFuture<Void> stop;
        try {
            stop = cluster.stop(member, workerId);
        } catch (RuntimeException e) {
            stop = CompletableFuture.failedFuture(e);
        }
        stopped.compareAndSet(null, stop);
    }

    @Override
    public boolean awaitExit(long deadlineNanos) throws InterruptedException {
        CompletableFuture<Void> stop = stopped.get();
        if (stop == null) {
            return false;
        }
        try {
            stop.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            LOG.debug("{}: stopping failed: {}", describe(), e.getCause().toString()); // its member is gone
        } catch (TimeoutException e) {
            return false;
        }
        return true;
    }

    @Override
    public void destroy() {
        askToExit();
        try {
            if (!awaitExit(stopRequestedAt + DESTROY_WAIT.toNanos())) {
                LOG.warn("{}: its member did not confirm the worker's removal within {}", describe(), DESTROY_WAIT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
