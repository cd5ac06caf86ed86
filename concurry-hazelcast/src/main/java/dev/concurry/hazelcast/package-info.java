/**
 * Hazelcast for Concurry: {@link dev.concurry.hazelcast.HazelcastBackend} keeps limit sets in a Hazelcast
 * map, decided on each entry's owner by core's own algorithms and shared by every member and client (SPEC
 * L18b); {@link dev.concurry.hazelcast.HazelcastCluster} hosts the workers of
 * {@link dev.concurry.worker.Mode#CLUSTER} pools on the members, sharing such a set; and
 * {@link dev.concurry.hazelcast.LoopbackCluster} starts members on this host's loopback interface (in this
 * JVM and as member JVMs) for tests and demos.
 *
 * <pre>{@code
 * try (LoopbackCluster cluster = LoopbackCluster.builder().embeddedMembers(3).start();
 *      WorkerPool<AiWorker> pool = Worker.options(AiWorker.class)
 *              .mode(Mode.CLUSTER).cluster(HazelcastCluster.of(cluster.embeddedMember(0)))
 *              .limits(RateLimit.of("requests", 500, Duration.ofMinutes(1)))      // one Hazelcast set for all
 *              .maxWorkers(6).init(AiWorker::new)) {
 *     Completion c = pool.call(w -> w.generate("Hello"));
 * }
 * }</pre>
 */
package dev.concurry.hazelcast;
