package dev.concurry.worker;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the workers of a {@link Mode#CLUSTER} pool on the members of its {@link WorkerCluster} (SPEC W2).
 * Placement is even: each new worker goes to the member hosting the fewest of this pool's live workers
 * (ties: the cluster's member order), so the first {@code maxWorkers} are dealt round-robin, and a worker
 * lost with its member comes back on the least loaded member left. A member that cannot be reached when a
 * worker starts (killed, not yet removed from the member list) is skipped for that worker.
 */
final class ClusterLauncher extends RemoteLauncher {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterLauncher.class);
    private final WorkerCluster cluster;
    private final String poolId = UUID.randomUUID().toString().substring(0, 8);
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by lock: the worker of each index, for placement. */
    private final Map<Integer, MemberWorker> placed = new HashMap<>();
    /** Guarded by lock. */
    private long generation;

    ClusterLauncher(PoolConfig config, Class<?> workerType, WorkerFactory<?> factory, ChildLimits limits) {
        super(config, workerType, factory, limits);
        this.cluster = config.cluster();
    }

    @Override
    List<MemberWorker> launchAll(int first, int count) throws InterruptedException {
        List<byte[]> payloads = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            payloads.add(initPayload(first + i));
        }
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        List<MemberWorker> workers = new ArrayList<>(count);
        List<CompletableFuture<WorkerCluster.Reply>> starts = new ArrayList<>(count);
        boolean ok = false;
        try {
            for (int i = 0; i < count; i++) {
                workers.add(place(first + i, payloads.get(i), Set.of(), starts));
            }
            for (int i = 0; i < count; i++) {
                // A member that cannot be reached (it died, and the cluster has not noticed yet) is
                // skipped: starting again elsewhere is safe, since no call has reached the worker.
                Set<WorkerCluster.Node> unreachable = new HashSet<>();
                while (!awaitStarted(workers.get(i), starts.get(i), deadline)) {
                    unreachable.add(workers.get(i).member);
                    List<CompletableFuture<WorkerCluster.Reply>> retry = new ArrayList<>(1);
                    workers.set(i, place(first + i, payloads.get(i), unreachable, retry));
                    starts.set(i, retry.get(0));
                }
            }
            ok = true;
            return workers;
        } finally {
            if (!ok) {
                workers.forEach(worker -> worker.lost("could not be started"));
                workers.forEach(MemberWorker::destroy);
            }
        }
    }

    /** Starts worker {@code index} on the least loaded member not in {@code excluded}; adds its start to {@code starts}. */
    private MemberWorker place(int index, byte[] payload, Set<WorkerCluster.Node> excluded,
            List<CompletableFuture<WorkerCluster.Reply>> starts) {
        lock.lock();
        try {
            List<WorkerCluster.Node> members = new ArrayList<>(cluster.members());
            members.removeAll(excluded);
            if (members.isEmpty()) {
                throw new IllegalStateException(cluster.name() + " has no member that can host workers of pool '"
                        + poolName + "'" + (excluded.isEmpty() ? "" : " (unreachable: " + excluded + ")"));
            }
            WorkerCluster.Node member = leastLoaded(members);
            String workerId = poolName + "-" + poolId + "-" + index + "." + (++generation);
            MemberWorker worker = new MemberWorker(cluster, member, workerId);
            MemberWorker previous = placed.put(index, worker);
            if (previous != null && !previous.death().isDone()) {
                previous.lost("was replaced");
            }
            starts.add(cluster.start(member, workerId, payload));
            return worker;
        } finally {
            lock.unlock();
        }
    }

    /** The member with the fewest live workers of this pool; called under the lock. */
    private WorkerCluster.Node leastLoaded(List<WorkerCluster.Node> members) {
        Map<WorkerCluster.Node, Integer> load = new HashMap<>();
        for (MemberWorker worker : placed.values()) {
            if (!worker.death().isDone()) {
                load.merge(worker.member, 1, Integer::sum);
            }
        }
        WorkerCluster.Node best = members.get(0);
        for (WorkerCluster.Node member : members) {
            if (load.getOrDefault(member, 0) < load.getOrDefault(best, 0)) {
                best = member;
            }
        }
        return best;
    }

    /**
     * Waits for a start: true when the worker is built; false when its member could not be reached (the
     * worker is then given up); the factory's own failure is rethrown.
     */
    private boolean awaitStarted(MemberWorker worker, CompletableFuture<WorkerCluster.Reply> start, long deadline)
            throws InterruptedException {
        WorkerCluster.Reply reply;
        try {
            reply = start.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new IllegalStateException(worker.describe() + " did not start within " + START_TIMEOUT);
        } catch (ExecutionException e) {
            LOG.warn("cannot start {}: {}; trying another member", worker.describe(), e.getCause().toString());
            worker.lost("could not be started (" + e.getCause() + ")");
            return false;
        }
        if (reply.failed()) {
            rethrowInitFailure(
                    ChildProcess.decodeFailure(reply.payload(), filter, loader, "the worker factory's failure"),
                    worker.describe());
        }
        return true;
    }
}
