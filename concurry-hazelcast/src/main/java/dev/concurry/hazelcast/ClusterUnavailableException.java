package dev.concurry.hazelcast;

import dev.concurry.limit.LimitException;

/**
 * Thrown when a {@link HazelcastBackend} set cannot be decided by the cluster (SPEC L18b: fail closed):
 * the cluster did not answer within the backend's command timeout (its members are unreachable, or the
 * owner of the set died and the call could not be completed elsewhere in time), or split-brain protection
 * refuses because this side of the cluster has fewer members than its minimum. The caller holds nothing:
 * a call whose outcome stayed unknown is given back by this JVM's next call to the set, and its resource
 * permits return anyway when their lease expires. The set recovers by itself once the cluster can
 * decide again: retry later.
 *
 * <pre>{@code
 * try (Acquisition acq = shared.acquire(Request.of("requests", 1))) {
 *     call();
 * } catch (ClusterUnavailableException e) {
 *     // "the Hazelcast cluster 'prod' did not decide limit set 'openai' within PT5S ..."; retry after a pause
 * }
 * }</pre>
 */
public class ClusterUnavailableException extends LimitException {
    private static final long serialVersionUID = 1L;

    public ClusterUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
