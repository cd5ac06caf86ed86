package dev.concurry.worker;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Starts the workers of a {@link Mode#CLUSTER} pool on the members of its {@link WorkerCluster} (SPEC W2).
 * Placement is even: each new worker goes to the member hosting the fewest of this pool's live workers
 * (ties: the cluster's member order), so the first {@code maxWorkers} are dealt round-robin, and a worker
 * lost with its member comes back on the least loaded member left.
 */
final class ClusterLauncher extends RemoteLauncher {
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
        List<MemberWorker> workers = new ArrayList<>(count);
        List<CompletableFuture<WorkerCluster.Reply>> starts = new ArrayList<>(count);
        lock.lock();
        try {
            List<WorkerCluster.Member> members = cluster.members();
            if (members.isEmpty()) {
                throw new IllegalStateException(cluster.name() + " has no member that can host workers of pool '"
                        + poolName + "'");
            }
            for (int i = 0; i < count; i++) {
                WorkerCluster.Member member = leastLoaded(members);
                String workerId = poolName + "-" + poolId + "-" + (first + i) + "." + (++generation);
                MemberWorker worker = new MemberWorker(cluster, member, workerId);
                placed.put(first + i, worker);
                workers.add(worker);
                starts.add(cluster.start(member, workerId, payloads.get(i)));
            }
        } finally {
            lock.unlock();
        }
        boolean ok = false;
        try {
            long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
            for (int i = 0; i < count; i++) {
                awaitStarted(workers.get(i), starts.get(i), deadline);
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

    /** The member with the fewest live workers of this pool; called under the lock. */
    private WorkerCluster.Member leastLoaded(List<WorkerCluster.Member> members) {
        Map<WorkerCluster.Member, Integer> load = new HashMap<>();
        for (MemberWorker worker : placed.values()) {
            if (!worker.death().isDone()) {
                load.merge(worker.member, 1, Integer::sum);
            }
        }
        WorkerCluster.Member best = members.get(0);
        for (WorkerCluster.Member member : members) {
            if (load.getOrDefault(member, 0) < load.getOrDefault(best, 0)) {
                best = member;
            }
        }
        return best;
    }

    private void awaitStarted(MemberWorker worker, CompletableFuture<WorkerCluster.Reply> start, long deadline)
            throws InterruptedException {
        WorkerCluster.Reply reply;
        try {
            reply = start.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new IllegalStateException(worker.describe() + " did not start within " + START_TIMEOUT);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot start " + worker.describe() + ": " + e.getCause(), e.getCause());
        }
        if (reply.failed()) {
            rethrowInitFailure(ChildProcess.decodeFailure(reply.payload(), filter, loader, "the worker factory's failure"),
                    worker.describe());
        }
    }
}
