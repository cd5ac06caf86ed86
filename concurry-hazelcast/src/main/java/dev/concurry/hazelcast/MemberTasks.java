package dev.concurry.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import dev.concurry.worker.WorkerCluster.Reply;
import java.io.Serializable;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;

/**
 * The tasks {@link HazelcastCluster} sends to a member's executors, each acting on that member's
 * {@link MemberWorkers}. Java-serialized: their fields are ids and byte arrays that the core already
 * serialized and that the member's worker filters (SPEC W8).
 */
final class MemberTasks {
    private MemberTasks() {
    }

    /** The member's registry, given by Hazelcast before the task runs. */
    abstract static class OnMember implements HazelcastInstanceAware, Serializable {
        private static final long serialVersionUID = 1L;
        private transient HazelcastInstance member;

        @Override
        public void setHazelcastInstance(HazelcastInstance instance) {
            this.member = instance;
        }

        MemberWorkers workers() {
            return MemberWorkers.of(member);
        }
    }

    /** Builds a worker; replies with the factory's failure if it threw. */
    static final class Start extends OnMember implements Callable<Reply> {
        private static final long serialVersionUID = 1L;
        private final String workerId;
        private final UUID owner;
        private final byte[] init;

        Start(String workerId, UUID owner, byte[] init) {
            this.workerId = workerId;
            this.owner = owner;
            this.init = init;
        }

        @Override
        public Reply call() {
            return workers().start(workerId, owner, init);
        }
    }

    /** Runs one call on a worker and waits for its outcome. */
    static final class Call extends OnMember implements Callable<Reply> {
        private static final long serialVersionUID = 1L;
        private final String workerId;
        private final long callId;
        private final byte[] payload;

        Call(String workerId, long callId, byte[] payload) {
            this.workerId = workerId;
            this.callId = callId;
            this.payload = payload;
        }

        @Override
        public Reply call() {
            return workers().call(workerId, callId, payload);
        }
    }

    /** Cancels a queued or running call. */
    static final class Cancel extends OnMember implements Runnable {
        private static final long serialVersionUID = 1L;
        private final String workerId;
        private final long callId;

        Cancel(String workerId, long callId) {
            this.workerId = workerId;
            this.callId = callId;
        }

        @Override
        public void run() {
            workers().cancel(workerId, callId);
        }
    }

    /** Removes a worker; answers whether it was there. */
    static final class Stop extends OnMember implements Callable<Boolean> {
        private static final long serialVersionUID = 1L;
        private final String workerId;

        Stop(String workerId) {
            this.workerId = workerId;
        }

        @Override
        public Boolean call() {
            return workers().stop(workerId);
        }
    }

    /** Lists the workers the member hosts. */
    static final class ListWorkers extends OnMember implements Callable<List<String>> {
        private static final long serialVersionUID = 1L;

        @Override
        public List<String> call() {
            return workers().ids();
        }
    }
}
