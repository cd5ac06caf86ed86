package dev.concurry.hazelcast;

import com.hazelcast.client.Client;
import com.hazelcast.client.ClientListener;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import dev.concurry.worker.WorkerCluster.Hosted;
import dev.concurry.worker.WorkerCluster.Reply;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster workers hosted by one member (kept in the member's user context): each worker by id, with
 * the id of its owner, the member or client whose pool created it. When an owner leaves the cluster, or
 * this member shuts down, its workers are closed: no worker outlives the pool that made it.
 */
final class MemberWorkers {
    private static final Logger LOG = LoggerFactory.getLogger(MemberWorkers.class);
    private static final String CONTEXT_KEY = MemberWorkers.class.getName();

    private record Entry(Hosted worker, UUID owner) {
    }

    /** The member building a worker on this thread: where the worker's shared limits re-open ({@link MemberBackend}). */
    private static final ThreadLocal<HazelcastInstance> HOSTING = new ThreadLocal<>();

    private final HazelcastInstance member;
    private final Map<String, Entry> workers = new ConcurrentHashMap<>();

    private MemberWorkers(HazelcastInstance member) {
        this.member = member;
    }

    /** The member whose worker this thread is building, or null. */
    static HazelcastInstance hostingMember() {
        return HOSTING.get();
    }

    static MemberWorkers of(HazelcastInstance member) {
        return (MemberWorkers) member.getUserContext().computeIfAbsent(CONTEXT_KEY, key -> {
            MemberWorkers registry = new MemberWorkers(member);
            registry.watchOwners();
            return registry;
        });
    }

    private void watchOwners() {
        member.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                ownerLeft(event.getMember().getUuid(), "member " + event.getMember().getAddress());
            }
        });
        member.getClientService().addClientListener(new ClientListener() {
            @Override
            public void clientConnected(Client client) {
            }

            @Override
            public void clientDisconnected(Client client) {
                ownerLeft(client.getUuid(), "client " + client.getSocketAddress());
            }
        });
        member.getLifecycleService().addLifecycleListener(event -> {
            if (event.getState() == LifecycleEvent.LifecycleState.SHUTTING_DOWN) {
                workers.keySet().forEach(this::stop);
            }
        });
    }

    private void ownerLeft(UUID owner, String who) {
        workers.forEach((id, entry) -> {
            if (entry.owner().equals(owner) && stop(id)) {
                LOG.info("removed worker {}: its owner, {}, left the cluster", id, who);
            }
        });
    }

    Reply start(String workerId, UUID owner, byte[] init) {
        Hosted worker;
        HOSTING.set(member);
        try {
            worker = HazelcastCluster.hostWorker(init);
        } catch (Throwable t) {
            return HazelcastCluster.failed(t);
        } finally {
            HOSTING.remove();
        }
        workers.put(workerId, new Entry(worker, owner));
        return Reply.started();
    }

    Reply call(String workerId, long callId, byte[] payload) {
        Entry entry = workers.get(workerId);
        if (entry == null) {
            throw new IllegalStateException("member " + member.getCluster().getLocalMember().getAddress()
                    + " hosts no worker " + workerId + " (it was removed: its pool closed, or its owner left)");
        }
        return entry.worker().call(callId, payload).join();
    }

    void cancel(String workerId, long callId) {
        Entry entry = workers.get(workerId);
        if (entry != null) {
            entry.worker().cancel(callId);
        }
    }

    /** Closes and forgets the worker; false if there was none. */
    boolean stop(String workerId) {
        Entry entry = workers.remove(workerId);
        if (entry == null) {
            return false;
        }
        entry.worker().close();
        return true;
    }

    List<String> ids() {
        return List.copyOf(workers.keySet());
    }
}
