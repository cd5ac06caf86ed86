package dev.concurry.hazelcast;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Hazelcast cluster on this host's loopback interface, for tests and demos: members embedded in this
 * JVM and member JVMs (child processes started with this JVM's {@code java} and class path, so they can
 * host this application's workers), all in one cluster. {@link #close()} stops every member and client it
 * started; a member JVM also exits by itself when this JVM dies (its stdin closes).
 *
 * <pre>{@code
 * try (LoopbackCluster cluster = LoopbackCluster.builder().embeddedMembers(1).memberProcesses(2).start()) {
 *     HazelcastInstance hz = cluster.embeddedMember(0);       // this JVM is a member too
 *     cluster.memberProcesses().get(1).kill();                  // kill -9 of one member JVM
 * }
 * }</pre>
 *
 * <p>The members use {@link #memberConfig}: a cluster name of their own, phone-home off, bound to
 * 127.0.0.1 only, fixed ports picked free at start (no auto-increment), TCP-IP join listing every member,
 * multicast and auto-detection off, failure detection in seconds instead of Hazelcast's 60 s
 * ({@link #HEARTBEAT}, {@link #MAX_NO_HEARTBEAT}, {@link #INVOCATION_TIMEOUT}), the cluster workers' executors
 * ({@link HazelcastCluster#configure}) and the limits map with split-brain protection requiring a majority of
 * the members ({@link HazelcastBackend#configure(Config)}). The first member starts
 * alone, the others then join it in parallel, so the cluster never starts split in two.
 */
public final class LoopbackCluster implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LoopbackCluster.class);
    /** How often members (and clients) send heartbeats. */
    public static final Duration HEARTBEAT = Duration.ofSeconds(1);
    /** A member or client silent for this long is removed (Hazelcast's default: 60 s). */
    public static final Duration MAX_NO_HEARTBEAT = Duration.ofSeconds(5);
    /** How long an operation may go without a response or an operation heartbeat (default: 60 s / 120 s). */
    public static final Duration INVOCATION_TIMEOUT = Duration.ofSeconds(10);
    /** How long {@link Builder#start()} waits for every member to see the whole cluster. */
    static final Duration FORMATION_TIMEOUT = Duration.ofMinutes(2);

    private final String name;
    private final List<Integer> ports;
    private final List<HazelcastInstance> embedded;
    private final List<MemberProcess> processes;
    private final List<HazelcastInstance> clients = new ArrayList<>();
    private final ReentrantLock clientsLock = new ReentrantLock();
    private final Duration formationTime;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LoopbackCluster(String name, List<Integer> ports, List<HazelcastInstance> embedded,
            List<MemberProcess> processes, Duration formationTime) {
        this.name = name;
        this.ports = List.copyOf(ports);
        this.embedded = List.copyOf(embedded);
        this.processes = List.copyOf(processes);
        this.formationTime = formationTime;
    }

    /**
     * Starts configuring a cluster: one embedded member and no member JVM by default.
     *
     * <pre>{@code
     * LoopbackCluster cluster = LoopbackCluster.builder().embeddedMembers(0).memberProcesses(3).start();
     * }</pre>
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The configuration of one member on 127.0.0.1:{@code port} in cluster {@code clusterName}, joining
     * the members at {@code memberPorts} over TCP-IP. Reusable outside this harness, for members started
     * another way.
     *
     * <pre>{@code
     * Config config = LoopbackCluster.memberConfig("test", 5701, List.of(5701, 5702));
     * config.addMapConfig(new MapConfig("limits").setBackupCount(1));
     * HazelcastInstance member = Hazelcast.newHazelcastInstance(config);
     * }</pre>
     */
    public static Config memberConfig(String clusterName, int port, List<Integer> memberPorts) {
        Config config = new Config();
        config.setClusterName(clusterName);
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.socket.bind.any", "false");
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.heartbeat.interval.seconds", Long.toString(HEARTBEAT.toSeconds()));
        config.setProperty("hazelcast.max.no.heartbeat.seconds", Long.toString(MAX_NO_HEARTBEAT.toSeconds()));
        config.setProperty("hazelcast.client.max.no.heartbeat.seconds", Long.toString(MAX_NO_HEARTBEAT.toSeconds()));
        config.setProperty("hazelcast.operation.call.timeout.millis", Long.toString(INVOCATION_TIMEOUT.toMillis()));
        // Joining: the first member waits this long for others before it declares itself master.
        config.setProperty("hazelcast.wait.seconds.before.join", "1");
        config.setProperty("hazelcast.max.wait.seconds.before.join", "3");
        // Should two members still come up as two clusters, they merge within seconds, not minutes.
        config.setProperty("hazelcast.merge.first.run.delay.seconds", "5");
        config.setProperty("hazelcast.merge.next.run.delay.seconds", "5");
        config.getJetConfig().setEnabled(false);
        NetworkConfig network = config.getNetworkConfig();
        network.setPort(port).setPortAutoIncrement(false).setPortCount(1);
        network.getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2);
        for (int memberPort : memberPorts) {
            join.getTcpIpConfig().addMember("127.0.0.1:" + memberPort);
        }
        HazelcastCluster.configure(config);
        HazelcastBackend.configure(config);
        return config;
    }

    /** The configuration of a client of the members at {@code memberPorts}, with the same failure detection. */
    public static ClientConfig clientConfig(String clusterName, List<Integer> memberPorts) {
        ClientConfig config = new ClientConfig();
        config.setClusterName(clusterName);
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.client.heartbeat.interval", Long.toString(HEARTBEAT.toMillis()));
        config.setProperty("hazelcast.client.heartbeat.timeout", Long.toString(MAX_NO_HEARTBEAT.toMillis()));
        config.setProperty("hazelcast.client.invocation.timeout.seconds",
                Long.toString(INVOCATION_TIMEOUT.toSeconds()));
        for (int memberPort : memberPorts) {
            config.getNetworkConfig().addAddress("127.0.0.1:" + memberPort);
        }
        config.getConnectionStrategyConfig().getConnectionRetryConfig().setClusterConnectTimeoutMillis(30_000);
        return config;
    }

    /**
     * The JVM options Hazelcast recommends on JDK 17+ (module access for its internals and metrics),
     * plus, on JDK 24+, {@code --sun-misc-unsafe-memory-access=allow} to keep its {@code sun.misc.Unsafe}
     * warning off the terminal. Member JVMs get these; give them to your own JVM too.
     */
    public static List<String> hazelcastJvmOptions() {
        List<String> options = new ArrayList<>(List.of("--add-modules", "java.se",
                "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
                "--add-opens", "java.base/java.lang=ALL-UNNAMED",
                "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens", "java.management/sun.management=ALL-UNNAMED",
                "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED"));
        if (Runtime.version().feature() >= 24) {
            options.add("--sun-misc-unsafe-memory-access=allow");
        }
        return options;
    }

    /** The cluster name (random unless given, so that concurrent test runs never meet). */
    public String name() {
        return name;
    }

    /** The ports of every member, embedded ones first. */
    public List<Integer> ports() {
        return ports;
    }

    /** The members running in this JVM. */
    public List<HazelcastInstance> embeddedMembers() {
        return embedded;
    }

    /** The {@code i}-th member running in this JVM. */
    public HazelcastInstance embeddedMember(int i) {
        return embedded.get(i);
    }

    /** The member JVMs. */
    public List<MemberProcess> memberProcesses() {
        return processes;
    }

    /** How long the cluster took to form (every member started and seeing all the others). */
    public Duration formationTime() {
        return formationTime;
    }

    /** Connects a new client to the cluster; it is shut down with the cluster, or by you before. */
    public HazelcastInstance newClient() {
        HazelcastInstance client = HazelcastClient.newHazelcastClient(clientConfig(name, ports));
        clientsLock.lock();
        try {
            clients.add(client);
        } finally {
            clientsLock.unlock();
        }
        return client;
    }

    /** Shuts down every client and member this cluster started; member JVMs that do not exit are killed. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        clientsLock.lock();
        try {
            clients.forEach(LoopbackCluster::terminate);
        } finally {
            clientsLock.unlock();
        }
        processes.forEach(MemberProcess::askToExit);
        embedded.forEach(LoopbackCluster::terminate);
        processes.forEach(MemberProcess::stop);
    }

    private static void terminate(HazelcastInstance instance) {
        try {
            instance.getLifecycleService().terminate();
        } catch (RuntimeException e) {
            LOG.debug("terminating {}: {}", instance.getName(), e.toString());
        }
    }

    @Override
    public String toString() {
        return "LoopbackCluster[" + name + ", " + embedded.size() + " embedded, " + processes.size()
                + " processes, ports "
                + ports + "]";
    }

    /** One member JVM: its pid, port and member id; {@link #kill()} is a {@code kill -9}. */
    public static final class MemberProcess {
        private final Process process;
        private final int port;
        private final CompletableFuture<String> ready = new CompletableFuture<>();

        private MemberProcess(Process process, int port) {
            this.process = process;
            this.port = port;
        }

        static MemberProcess start(String clusterName, int port, List<Integer> ports, int expectedSize,
                List<String> jvmOptions) {
            List<String> command = new ArrayList<>();
            command.add(ProcessHandle.current().info().command()
                    .orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            command.addAll(hazelcastJvmOptions());
            command.addAll(jvmOptions);
            command.add(LoopbackMemberMain.class.getName());
            command.add(clusterName);
            command.add(Integer.toString(port));
            command.add(Integer.toString(expectedSize));
            command.add(String.join(",", ports.stream().map(String::valueOf).toList()));
            ProcessBuilder builder = new ProcessBuilder(command);
            builder.environment().put("CLASSPATH", System.getProperty("java.class.path"));
            builder.redirectError(ProcessBuilder.Redirect.PIPE);
            Process process;
            try {
                process = builder.start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start a Hazelcast member JVM: " + e, e);
            }
            MemberProcess member = new MemberProcess(process, port);
            member.startReaders();
            return member;
        }

        private void startReaders() {
            String label = "[hazelcast member 127.0.0.1:" + port + " pid " + pid() + "] ";
            Thread.ofPlatform().daemon(true).name("loopback-member-" + port + "-out").start(() -> {
                try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = out.readLine()) != null;) {
                        if (line.startsWith(LoopbackMemberMain.READY)) {
                            ready.complete(line.substring(LoopbackMemberMain.READY.length()).trim());
                        } else {
                            System.err.println(label + line);
                        }
                    }
                } catch (IOException e) {
                    LOG.debug("{}stdout ended: {}", label, e.toString());
                }
                ready.completeExceptionally(new IllegalStateException("member JVM " + pid() + " on port " + port
                        + " exited before it was ready (see its stderr above)"));
            });
            Thread.ofPlatform().daemon(true).name("loopback-member-" + port + "-err").start(() -> {
                try (BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = err.readLine()) != null;) {
                        System.err.println(label + line);
                    }
                } catch (IOException e) {
                    LOG.debug("{}stderr ended: {}", label, e.toString());
                }
            });
        }

        /** Waits until the member sees the whole cluster; returns its member id. */
        String awaitReady(long deadlineNanos) throws InterruptedException, TimeoutException {
            try {
                return ready.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                throw (RuntimeException) e.getCause();
            }
        }

        public long pid() {
            return process.pid();
        }

        /** The member's port on 127.0.0.1. */
        public int port() {
            return port;
        }

        /** The member's id ({@code Member.getUuid()}), as a string. */
        public String memberId() {
            return ready.join();
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        /** {@code kill -9}: the member vanishes without a word to the cluster. Waits until it is gone. */
        public void kill() {
            process.destroyForcibly();
            awaitExit(Duration.ofSeconds(10));
        }

        private void askToExit() {
            try {
                process.getOutputStream().close(); // the member leaves the cluster and exits
            } catch (IOException e) {
                LOG.debug("closing stdin of member JVM {}: {}", pid(), e.toString());
            }
        }

        private void stop() {
            askToExit();
            if (!awaitExit(Duration.ofSeconds(15))) {
                process.destroyForcibly();
                awaitExit(Duration.ofSeconds(10));
            }
        }

        private boolean awaitExit(Duration timeout) {
            try {
                return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return !process.isAlive();
            }
        }

        @Override
        public String toString() {
            return "MemberProcess[pid " + pid() + ", 127.0.0.1:" + port + (isAlive() ? "" : ", dead") + "]";
        }
    }

    /** Options of a {@link LoopbackCluster}. */
    public static final class Builder {
        private String name;
        private int embeddedMembers = 1;
        private int memberProcesses;
        private List<String> jvmOptions = List.of("-Xmx256m", "-XX:+UseSerialGC",
                "-Dorg.slf4j.simpleLogger.log.com.hazelcast=warn");

        private Builder() {
        }

        /** The cluster name; a random {@code concurry-<hex>} by default. */
        public Builder name(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isBlank()) {
                throw new IllegalArgumentException("name must not be blank");
            }
            this.name = name;
            return this;
        }

        /** Members in this JVM; 1 by default. */
        public Builder embeddedMembers(int count) {
            if (count < 0) {
                throw new IllegalArgumentException("embeddedMembers must be >= 0, got: " + count);
            }
            this.embeddedMembers = count;
            return this;
        }

        /** Member JVMs; none by default. */
        public Builder memberProcesses(int count) {
            if (count < 0) {
                throw new IllegalArgumentException("memberProcesses must be >= 0, got: " + count);
            }
            this.memberProcesses = count;
            return this;
        }

        /**
         * Options for each member JVM, added after {@link #hazelcastJvmOptions()}; by default a 256 MB heap,
         * the serial collector and Hazelcast's logging at WARN. Replaces options set before.
         */
        public Builder jvmOptions(String... options) {
            this.jvmOptions = List.of(options);
            return this;
        }

        /**
         * Starts the members and waits until each sees the whole cluster.
         *
         * @throws IllegalArgumentException if there is no member at all
         * @throws IllegalStateException    if the cluster does not form within two minutes (nothing is left running)
         */
        public LoopbackCluster start() {
            int size = embeddedMembers + memberProcesses;
            if (size == 0) {
                throw new IllegalArgumentException("a cluster needs at least one member");
            }
            String clusterName = name != null
                    ? name
                    : "concurry-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
            List<Integer> ports = freePorts(size);
            long started = System.nanoTime();
            long deadline = started + FORMATION_TIMEOUT.toNanos();
            List<HazelcastInstance> embedded = new ArrayList<>();
            List<MemberProcess> processes = new ArrayList<>();
            boolean ok = false;
            try {
                // The first member alone, so that the others find a master and never form a second cluster.
                if (embeddedMembers > 0) {
                    embedded.add(Hazelcast.newHazelcastInstance(memberConfig(clusterName, ports.get(0), ports)));
                } else {
                    processes.add(MemberProcess.start(clusterName, ports.get(0), ports, 1, jvmOptions));
                    processes.get(0).awaitReady(deadline);
                }
                for (int i = 1; i < size; i++) {
                    if (i >= embeddedMembers) {
                        processes.add(MemberProcess.start(clusterName, ports.get(i), ports, size, jvmOptions));
                    }
                }
                List<CompletableFuture<HazelcastInstance>> joining = new ArrayList<>();
                for (int i = 1; i < embeddedMembers; i++) {
                    Config config = memberConfig(clusterName, ports.get(i), ports);
                    joining.add(CompletableFuture.supplyAsync(() -> Hazelcast.newHazelcastInstance(config)));
                }
                for (CompletableFuture<HazelcastInstance> member : joining) {
                    embedded.add(member.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
                }
                for (MemberProcess process : processes) {
                    process.awaitReady(deadline);
                }
                for (HazelcastInstance member : embedded) {
                    awaitSize(member, size, deadline);
                }
                ok = true;
                Duration formation = Duration.ofNanos(System.nanoTime() - started);
                LOG.info("loopback cluster {} formed in {} ms: {} embedded, {} member JVMs, ports {}", clusterName,
                        formation.toMillis(), embeddedMembers, memberProcesses, ports);
                return new LoopbackCluster(clusterName, ports, embedded, processes, formation);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while starting cluster " + clusterName, e);
            } catch (TimeoutException e) {
                throw new IllegalStateException("cluster " + clusterName + " did not form within " + FORMATION_TIMEOUT,
                        e);
            } catch (ExecutionException e) {
                throw new IllegalStateException(
                        "a member of cluster " + clusterName + " failed to start: " + e.getCause(),
                        e.getCause());
            } finally {
                if (!ok) {
                    new LoopbackCluster(clusterName, ports, embedded, processes, Duration.ZERO).close();
                }
            }
        }

        private static void awaitSize(HazelcastInstance member, int size, long deadlineNanos)
                throws InterruptedException, TimeoutException {
            while (member.getCluster().getMembers().size() < size) {
                if (System.nanoTime() > deadlineNanos) {
                    throw new TimeoutException(
                            "member " + member.getName() + " sees " + member.getCluster().getMembers());
                }
                Thread.sleep(20);
            }
        }

        /** Ports free on 127.0.0.1 now (a port taken between here and the member's start fails the start). */
        private static List<Integer> freePorts(int count) {
            List<ServerSocket> sockets = new ArrayList<>();
            try {
                for (int i = 0; i < count; i++) {
                    sockets.add(new ServerSocket(0, 1, InetAddress.getLoopbackAddress()));
                }
                return sockets.stream().map(ServerSocket::getLocalPort).toList();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot find free ports on 127.0.0.1", e);
            } finally {
                for (ServerSocket socket : sockets) {
                    try {
                        socket.close();
                    } catch (IOException ignored) {
                        // the port is free again either way
                    }
                }
            }
        }
    }
}
