package dev.concurry.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import java.io.Serializable;
import java.time.Duration;

/**
 * How a cluster worker re-opens its pool's {@link HazelcastBackend} set on the member that hosts it (SPEC
 * L20): the backend's options travel with the worker's description, and on the member they become a
 * backend on that member's own instance (one per member and options, kept for the member's lifetime).
 *
 * @param mapName        the map holding the sets
 * @param lease          the lease of resource permits
 * @param commandTimeout how long a call may take
 */
record MemberBackend(String mapName, Duration lease, Duration commandTimeout) implements LimitBackend, Serializable {

    static MemberBackend of(HazelcastBackend backend) {
        return new MemberBackend(backend.mapName(), backend.lease(), backend.commandTimeout());
    }

    @Override
    public String name() {
        return "hazelcast";
    }

    @Override
    public boolean crossProcess() {
        return true;
    }

    /**
     * Opens the set on the member building the current worker.
     *
     * @throws IllegalStateException outside a cluster worker being built on a member
     */
    @Override
    public LimitStore open(LimitSetDefinition definition) {
        HazelcastInstance member = MemberWorkers.hostingMember();
        if (member == null) {
            throw new IllegalStateException("limit set '" + definition.name() + "' was handed to cluster workers and"
                    + " can only be re-opened on a member while it builds a worker; build sets with HazelcastBackend.of(hz)");
        }
        HazelcastBackend backend = (HazelcastBackend) member.getUserContext().computeIfAbsent(
                MemberBackend.class.getName() + ":" + this, key -> HazelcastBackend.builder(member).mapName(mapName)
                        .leaseDuration(lease).commandTimeout(commandTimeout).build());
        return backend.open(definition);
    }
}
