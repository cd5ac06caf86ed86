package dev.concurry.hazelcast;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.ExecutorConfig;
import com.hazelcast.core.ExecutionCallback;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.worker.WorkerCluster;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Hazelcast cluster hosting the workers of {@link dev.concurry.worker.Mode#CLUSTER} pools (SPEC W2),
 * through a member of it or a client of it.
 *
 * <pre>{@code
 * HazelcastInstance hz = Hazelcast.newHazelcastInstance(HazelcastCluster.configure(config));  // an embedded member
 * try (WorkerPool<AiWorker> pool = Worker.options(AiWorker.class)
 *         .mode(Mode.CLUSTER).cluster(HazelcastCluster.of(hz))
 *         .maxWorkers(30)
 *         .init(AiWorker::new)) {                               // a serializable factory
 *     List<Completion> all = Futures.gather(prompts.stream().map(p -> pool.submit(w -> w.generate(p))).toList());
 * }
 * }</pre>
 *
 * <p>How it works: each worker is built on a (non-lite) member by a task sent with the member's
 * {@link IExecutorService} {@value #CONTROL_EXECUTOR} and kept there, in that member's registry, for the
 * pool's lifetime; each call is a task on {@value #CALLS_EXECUTOR} that hands the serialized call to the
 * worker and waits for its outcome, so a running call holds one thread of that executor on its member.
 * A {@link MembershipListener} reports members that leave; their workers' calls fail with
 * {@link dev.concurry.worker.WorkerDiedException}. A member also removes the workers of a pool whose
 * owner (the member or client that created them) leaves the cluster, so none is left behind.
 *
 * <p><b>Embedded members</b> (this JVM is a member) are the natural choice: every member runs the same
 * application, so every class a worker needs is on every member's class path. <b>A client</b> works too
 * ({@code HazelcastCluster.of(HazelcastClient.newHazelcastClient(clientConfig))}), but the members then
 * need the worker classes, the classes of everything the calls capture and return, and concurry-core and
 * concurry-hazelcast on their class paths (Hazelcast's user code deployment is deprecated and not in the
 * open edition). A member learns that a client left from its own connection to it, so clients should keep
 * the default smart routing (a connection to every member) for their workers to be removed everywhere.
 *
 * <p>Give members {@link #configure(Config)}: it sizes the two executors (a call executor must have a
 * thread for every worker its member hosts). Without it, this class adds the same executor configuration
 * to the running cluster (dynamic configuration), unless the cluster already has one of those names.
 */
public final class HazelcastCluster extends WorkerCluster {
    private static final Logger LOG = LoggerFactory.getLogger(HazelcastCluster.class);
    /** The executor that runs worker calls: one thread per running call. */
    public static final String CALLS_EXECUTOR = "concurry-worker-calls";
    /** The executor that starts, cancels and removes workers (never behind a running call). */
    public static final String CONTROL_EXECUTOR = "concurry-worker-control";
    /** Thread bounds of the two executors (threads are created on demand). */
    static final int CALLS_POOL_SIZE = 1024;
    static final int CONTROL_POOL_SIZE = 64;
    private static final String CONTEXT_KEY = HazelcastCluster.class.getName();

    private final HazelcastInstance hz;
    private final String name;
    private final UUID owner;
    private final IExecutorService calls;
    private final IExecutorService control;
    private final ConcurrentMap<UUID, CompletableFuture<String>> departures = new ConcurrentHashMap<>();

    private HazelcastCluster(HazelcastInstance hz) {
        this.hz = hz;
        this.name = "Hazelcast cluster '" + clusterName(hz) + "'";
        this.owner = hz.getLocalEndpoint().getUuid();
        addExecutorConfigs(hz);
        this.calls = hz.getExecutorService(CALLS_EXECUTOR);
        this.control = hz.getExecutorService(CONTROL_EXECUTOR);
        hz.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                departure(event.getMember().getUuid()).complete("left the cluster");
            }
        });
    }

    /**
     * The cluster reached through {@code hz}, a member or a client. One per instance: calling this again
     * with the same instance returns the same object.
     *
     * <pre>{@code
     * Worker.options(AiWorker.class).mode(Mode.CLUSTER).cluster(HazelcastCluster.of(hz)).maxWorkers(30)
     * }</pre>
     */
    public static HazelcastCluster of(HazelcastInstance hz) {
        Objects.requireNonNull(hz, "hz");
        return (HazelcastCluster) hz.getUserContext().computeIfAbsent(CONTEXT_KEY, key -> new HazelcastCluster(hz));
    }

    /**
     * Adds to a member's {@code config} the executors that host cluster workers ({@value #CALLS_EXECUTOR},
     * {@value #CONTROL_EXECUTOR}), unless it configures them already. Returns {@code config}.
     *
     * <pre>{@code
     * Config config = new Config().setClusterName("prod");
     * HazelcastInstance member = Hazelcast.newHazelcastInstance(HazelcastCluster.configure(config));
     * }</pre>
     */
    public static Config configure(Config config) {
        for (ExecutorConfig executor : executorConfigs()) {
            if (!config.getExecutorConfigs().containsKey(executor.getName())) {
                config.addExecutorConfig(executor);
            }
        }
        return config;
    }

    private static List<ExecutorConfig> executorConfigs() {
        return List.of(new ExecutorConfig(CALLS_EXECUTOR, CALLS_POOL_SIZE),
                new ExecutorConfig(CONTROL_EXECUTOR, CONTROL_POOL_SIZE));
    }

    private static void addExecutorConfigs(HazelcastInstance hz) {
        for (ExecutorConfig executor : executorConfigs()) {
            try {
                hz.getConfig().addExecutorConfig(executor);
            } catch (RuntimeException e) {
                // Configured differently already (by the user or configure()): theirs stands.
                LOG.debug("executor {} keeps its configuration: {}", executor.getName(), e.toString());
            }
        }
    }

    static String clusterName(HazelcastInstance hz) {
        try {
            return hz.getConfig().getClusterName();
        } catch (RuntimeException e) {
            return hz.getName();
        }
    }

    /** The instance this cluster is reached through. */
    public HazelcastInstance instance() {
        return hz;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    protected List<WorkerCluster.Node> members() {
        return hz.getCluster().getMembers().stream().filter(m -> !m.isLiteMember()).map(HazelcastCluster::toMember)
                .toList();
    }

    private static WorkerCluster.Node toMember(Member member) {
        return new WorkerCluster.Node(member.getUuid().toString(), member.getAddress().toString());
    }

    /** The Hazelcast member now in the cluster with {@code member}'s id, or null if it left. */
    private Member find(WorkerCluster.Node member) {
        UUID id = UUID.fromString(member.id());
        for (Member candidate : hz.getCluster().getMembers()) {
            if (candidate.getUuid().equals(id)) {
                return candidate;
            }
        }
        return null;
    }

    @Override
    protected CompletableFuture<Reply> start(WorkerCluster.Node member, String workerId, byte[] init) {
        return submit(control, member, new MemberTasks.Start(workerId, owner, init));
    }

    @Override
    protected CompletableFuture<Reply> call(WorkerCluster.Node member, String workerId, long callId, byte[] payload) {
        return submit(calls, member, new MemberTasks.Call(workerId, callId, payload));
    }

    @Override
    protected void cancel(WorkerCluster.Node member, String workerId, long callId) {
        try {
            Member target = find(member);
            if (target != null) {
                control.executeOnMember(new MemberTasks.Cancel(workerId, callId), target);
            }
        } catch (RuntimeException e) {
            LOG.debug("cancel of call #{} on {} not sent: {}", callId, member.address(), e.toString());
        }
    }

    @Override
    protected CompletableFuture<Void> stop(WorkerCluster.Node member, String workerId) {
        return submit(control, member, new MemberTasks.Stop(workerId)).thenApply(removed -> null);
    }

    @Override
    protected CompletableFuture<String> departure(WorkerCluster.Node member) {
        CompletableFuture<String> departed = departure(UUID.fromString(member.id()));
        if (find(member) == null) {
            departed.complete("is not in the cluster");
        }
        return departed;
    }

    private CompletableFuture<String> departure(UUID member) {
        return departures.computeIfAbsent(member, id -> new CompletableFuture<>());
    }

    /** Sends {@code task} to {@code member}; the future fails if the member is gone or the task failed there. */
    private <T> CompletableFuture<T> submit(IExecutorService executor, WorkerCluster.Node member,
            java.util.concurrent.Callable<T> task) {
        CompletableFuture<T> outcome = new CompletableFuture<>();
        try {
            Member target = find(member); // throws when this instance itself is shut down
            if (target == null) {
                outcome.completeExceptionally(new IllegalStateException("member " + member.address() + " is not in "
                        + name));
                return outcome;
            }
            executor.submitToMember(task, target, new ExecutionCallback<T>() {
                @Override
                public void onResponse(T response) {
                    outcome.complete(response);
                }

                @Override
                public void onFailure(Throwable t) {
                    outcome.completeExceptionally(t);
                }
            });
        } catch (RuntimeException e) {
            outcome.completeExceptionally(e);
        }
        return outcome;
    }

    /**
     * For diagnostics and tests: the ids of the workers each member hosts now (of every pool), by member
     * address. Asks every member, waiting up to {@code timeout}.
     *
     * <pre>{@code
     * HazelcastCluster.of(hz).hostedWorkers(Duration.ofSeconds(5))
     *         .forEach((member, workers) -> System.out.println(member + ": " + workers.size() + " workers"));
     * }</pre>
     *
     * @throws IllegalStateException if a member does not answer in time
     */
    public Map<String, List<String>> hostedWorkers(java.time.Duration timeout) {
        Map<String, List<String>> hosted = new LinkedHashMap<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Map.Entry<Member, Future<List<String>>> answer : control.submitToMembers(new MemberTasks.ListWorkers(),
                hz.getCluster().getMembers()).entrySet()) {
            try {
                hosted.put(answer.getKey().getAddress().toString(),
                        answer.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while asking " + answer.getKey() + " for its workers", e);
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("member " + answer.getKey().getAddress() + " did not list its workers: "
                        + e, e);
            }
        }
        return hosted;
    }

    /**
     * The backend with which each member re-opens a set given to a cluster pool (SPEC L20): a
     * {@link HazelcastBackend} set of this cluster is re-opened on each member through the member's own
     * instance, with the same map, lease and command timeout. A set whose backend has a portable form
     * ({@code LimitBackend.portable()}, such as a Redis backend built from its address) is re-opened from
     * it on each member; others are refused: an in-memory set lives in one JVM. (A shared-memory set is
     * portable but spans one host only: use it when every member runs on that host.)
     */
    @Override
    protected LimitBackend memberBackend(LimitSet set) {
        if (!(set.backend() instanceof HazelcastBackend backend)) {
            if (set.backend().portable().isPresent()) {
                return super.memberBackend(set);        // re-opened from its own portable form (Redis, say)
            }
            throw refuseSet(set, "HazelcastBackend.of(hz) (concurry-hazelcast), which every member of " + name
                    + " reaches");
        }
        if (backend.testClock()) {
            throw new IllegalArgumentException("limit set '" + set.name() + "' uses a HazelcastBackend with a test"
                    + " clock, which cannot travel to the members: build it without Builder.clock(...)");
        }
        String theirs = clusterName(backend.instance());
        if (!theirs.equals(clusterName(hz))) {
            throw new IllegalArgumentException("limit set '" + set.name() + "' lives in Hazelcast cluster '" + theirs
                    + "', but the workers run in " + name + ": build it with HazelcastBackend.of(hz) on this cluster");
        }
        return MemberBackend.of(backend);
    }

    /**
     * The one set that plain specs given to a cluster pool become (SPEC L20): a Hazelcast set named after
     * the pool (with a random suffix, so that pools of the same name in other JVMs never share it), shared by
     * every worker of the pool and removed from the map when the pool closes it.
     */
    @Override
    protected LimitSet poolLimits(String poolName, List<Limit> specs) {
        String setName = poolName + "@" + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
        return LimitSet.builder().name(setName).addAll(specs).backend(poolBackend()).build();
    }

    /** The backend of the sets plain specs become: one per instance, built on first use, kept with the instance. */
    private HazelcastBackend poolBackend() {
        return (HazelcastBackend) hz.getUserContext().computeIfAbsent(CONTEXT_KEY + ":pool-limits",
                key -> HazelcastBackend.builder(hz).removeSetsOnClose().build());
    }

    /** Builds a worker on this member; for {@link MemberWorkers}, which runs where {@link #host} is not visible. */
    static Hosted hostWorker(byte[] init) throws Throwable {
        return host(init);
    }

    /** A failed reply; for {@link MemberWorkers}. */
    static Reply failed(Throwable failure) {
        return failure(failure);
    }

    @Override
    public String toString() {
        return "HazelcastCluster[" + name + ", " + (hz.getLocalEndpoint() instanceof Member ? "member" : "client")
                + "]";
    }
}
