package dev.concurry.worker;

import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import java.io.Serializable;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A cluster of machines that hosts the workers of a {@link Mode#CLUSTER} pool (SPEC W2): the option given
 * to {@link PoolOptions#cluster(WorkerCluster)}. The core knows nothing of any cluster engine: a module
 * extends this class (for Hazelcast, {@code HazelcastCluster.of(hazelcastInstance)} in
 * {@code concurry-hazelcast}).
 *
 * <pre>{@code
 * try (WorkerPool<AiWorker> pool = Worker.options(AiWorker.class)
 *         .mode(Mode.CLUSTER).cluster(HazelcastCluster.of(hz))
 *         .maxWorkers(30)
 *         .init(AiWorker::new)) {                   // a serializable factory, run on the members
 *     Completion c = pool.call(w -> w.generate("Hello"));
 * }
 * }</pre>
 *
 * <p><b>For cluster modules (the SPI).</b> The pool places its workers on {@link #members()} (spread
 * evenly) and talks to each through {@link #start}, {@link #call}, {@link #cancel} and {@link #stop},
 * exchanging opaque byte arrays that the core serializes and filters (SPEC W8); it sends a worker one
 * call at a time and waits for its {@link Reply}. {@link #departure} tells the pool that a member left:
 * the calls of its workers fail at once with {@link WorkerDiedException} and the next call re-creates
 * the worker on another member. Calls are never re-sent: an implementation must not retry a call whose
 * delivery is uncertain, but fail its future.
 *
 * <p>On the member, the module hands what it received to {@link #host(byte[])}, which builds the worker
 * instance, and then to the returned {@link Hosted} worker. The members' class paths must hold the
 * worker classes (and concurry-core).
 *
 * <p>Limits: {@link #memberBackend(LimitSet)} and {@link #poolLimits(String, List)} are the one place where
 * a pool's shared limits become something every member re-opens.
 */
public abstract class WorkerCluster {

    protected WorkerCluster() {
    }

    /** A member that can host workers: its id (unique in the cluster) and its address, for messages. */
    public record Node(String id, String address) {
        public Node {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(address, "address");
        }
    }

    /**
     * The outcome of starting a worker or of one call, as sent back by a member: a serialized result (or
     * nothing, for a start), or when {@code failed} a serialized exception. Made by
     * {@link Hosted#call} and {@link #failure(Throwable)}.
     */
    public record Reply(boolean failed, byte[] payload) implements Serializable {
        private static final long serialVersionUID = 1L;

        public Reply {
            Objects.requireNonNull(payload, "payload");
        }

        /** A worker started. */
        public static Reply started() {
            return new Reply(false, new byte[0]);
        }

        ProcessProtocol.Frame frame(long id) {
            return new ProcessProtocol.Frame(failed ? ProcessProtocol.FAILURE : ProcessProtocol.RESULT, id, payload);
        }
    }

    /** A worker instance built on this member by {@link #host(byte[])}. */
    public interface Hosted {

        /**
         * Queues call {@code callId} (a serialized call); the future completes with its reply once it ran.
         * Calls run one at a time, in the order they were given.
         */
        CompletableFuture<Reply> call(long callId, byte[] payload);

        /** Removes call {@code callId} if queued, or interrupts it if running; nothing once it ended. */
        void cancel(long callId);

        /** Ends the worker: interrupts its running call, cancels queued ones, closes its limiter. Idempotent. */
        void close();
    }

    /** Names the cluster in messages, such as {@code "Hazelcast cluster 'dev'"}. */
    public abstract String name();

    /** The members that can host workers now, in a stable order; empty if none. */
    protected abstract List<Node> members();

    /**
     * Builds worker {@code workerId} on {@code member} from {@code init} (the member calls
     * {@link #host(byte[])}). Completes with {@link Reply#started()}, or with a failed reply carrying the
     * factory's exception ({@link #failure(Throwable)}); exceptionally when the member cannot be reached.
     */
    protected abstract CompletableFuture<Reply> start(Node member, String workerId, byte[] init);

    /**
     * Sends call {@code callId} to worker {@code workerId}; completes with its reply, or exceptionally if
     * the worker or its member is gone or the outcome is unknown (never by sending the call again).
     */
    protected abstract CompletableFuture<Reply> call(Node member, String workerId, long callId, byte[] payload);

    /** Asks the member to cancel call {@code callId} ({@link Hosted#cancel}); best effort, never blocks. */
    protected abstract void cancel(Node member, String workerId, long callId);

    /** Removes worker {@code workerId} from its member ({@link Hosted#close()}); completes when it is gone. */
    protected abstract CompletableFuture<Void> stop(Node member, String workerId);

    /**
     * Completes, with how (such as "left the cluster"), once {@code member} is no longer in the cluster;
     * already complete if it is not a member now.
     */
    protected abstract CompletableFuture<String> departure(Node member);

    /**
     * The backend with which each member re-opens {@code set}, a set (or a member of a pool) given to a
     * cluster pool with {@link PoolOptions#limits(dev.concurry.limit.Limiter)}; it must be
     * {@link Serializable} and reach the same shared state from every member (SPEC L20). Called at
     * {@code init()}; throws {@link IllegalArgumentException} saying which backend to use when the set
     * cannot be shared. This default takes the set's own {@linkplain LimitBackend#portable() portable
     * backend} (a Redis set built from URIs, for example) and refuses the others; a cluster module adds
     * its own backend.
     */
    protected LimitBackend memberBackend(LimitSet set) {
        return set.backend().portable().orElseThrow(
                () -> refuseSet(set, "a distributed backend that " + name() + " supports"));
    }

    /**
     * The one set, shared by every worker of pool {@code poolName}, that plain specs given to a cluster
     * pool become ({@code limits(Limit...)}, SPEC L20); the pool closes it. Its backend must be one that
     * {@link #memberBackend} accepts. This default refuses.
     */
    protected LimitSet poolLimits(String poolName, List<Limit> specs) {
        throw new IllegalArgumentException("plain limit specs are not supported by " + name() + " for Mode.CLUSTER"
                + " pools: pass a LimitSet of a distributed backend with limits(LimitSet), or sharedLimits(false)"
                + " for a private quota per worker");
    }

    /**
     * The message refusing {@code set} for a cluster pool: an in-memory set lives in one JVM, so workers
     * on other members cannot share it.
     */
    protected static IllegalArgumentException refuseSet(LimitSet set, String backendToUse) {
        return new IllegalArgumentException("limit set '" + set.name() + "' uses the " + set.backend().name()
                + " backend, which workers on cluster members (Mode.CLUSTER) cannot share: build it with "
                + backendToUse + ", or pass plain specs with limits(Limit...)");
    }

    /**
     * On a member: builds the worker described by {@code init} (as received by the module) and starts
     * its runner thread. Whatever the worker's factory throws is thrown here; send it back with
     * {@link #failure(Throwable)}.
     */
    protected static Hosted host(byte[] init) throws Throwable {
        HostedWorker worker = HostedWorker.open(init, "concurry-cluster-worker");
        return new Hosted() {
            @Override
            public CompletableFuture<Reply> call(long callId, byte[] payload) {
                CompletableFuture<Reply> reply = new CompletableFuture<>();
                worker.submit(callId, payload,
                        (type, id, bytes) -> reply.complete(new Reply(type == ProcessProtocol.FAILURE, bytes)));
                return reply;
            }

            @Override
            public void cancel(long callId) {
                worker.cancel(callId);
            }

            @Override
            public void close() {
                worker.close();
            }
        };
    }

    /** A failed reply carrying {@code failure} (or, if it cannot be serialized, a description of it). */
    protected static Reply failure(Throwable failure) {
        return new Reply(true, HostedWorker.failurePayload(failure));
    }

    @Override
    public String toString() {
        return name();
    }
}
