/**
 * Cluster mode on Hazelcast: {@link dev.concurry.hazelcast.HazelcastCluster} hosts the workers of
 * {@link dev.concurry.worker.Mode#CLUSTER} pools on the members of a Hazelcast cluster, and
 * {@link dev.concurry.hazelcast.LoopbackCluster} starts members on this host's loopback interface (in this
 * JVM and as member JVMs) for tests and demos.
 *
 * <pre>{@code
 * try (LoopbackCluster cluster = LoopbackCluster.builder().embeddedMembers(3).start();
 *      WorkerPool<AiWorker> pool = Worker.options(AiWorker.class)
 *              .mode(Mode.CLUSTER).cluster(HazelcastCluster.of(cluster.embeddedMember(0)))
 *              .maxWorkers(6).init(AiWorker::new)) {
 *     Completion c = pool.call(w -> w.generate("Hello"));
 * }
 * }</pre>
 */
package dev.concurry.hazelcast;
