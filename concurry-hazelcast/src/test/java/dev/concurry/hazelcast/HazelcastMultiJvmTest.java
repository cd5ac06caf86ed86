package dev.concurry.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.core.IExecutorService;
import dev.concurry.hazelcast.LoopbackCluster.MemberProcess;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One set shared by four JVMs (SPEC L18b): three member JVMs and this one (a client) hammer it while the
 * member owning the set's entry is killed with {@code kill -9}. An independent log (each JVM appends to its
 * own file as it goes, so a killed JVM's lines survive it) checks that no more than the capacity was ever
 * held or granted in a window, that the dead JVM's permits came back (long before their lease), that callers
 * only ever saw {@link ClusterUnavailableException}, and that every surviving JVM was granted again after.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class HazelcastMultiJvmTest {
    private static final int CONNECTIONS = 3;
    private static final int REQUESTS_PER_SECOND = 150;
    private static final Duration RUN = Duration.ofSeconds(8);
    private static final Duration KILL_AFTER = Duration.ofSeconds(3);
    private static final Duration LEASE = Duration.ofMinutes(2);
    private static LoopbackCluster cluster;
    private static HazelcastInstance client;

    @TempDir
    Path dir;

    @BeforeAll
    static void startCluster() {
        cluster = LoopbackCluster.builder().embeddedMembers(0).memberProcesses(3).start();
        System.out.println("3 member JVMs formed a cluster in " + cluster.formationTime().toMillis() + " ms");
        client = cluster.newClient();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void L18b_four_jvms_share_one_set_and_the_owner_is_killed_mid_run_nothing_over_admitted_nothing_leaked()
            throws Exception {
        String set = "hammered";
        try (HazelcastBackend backend = HazelcastBackend.of(client); LimitSet created = Hammer.set(set, backend)) {
            assertThat(created.tryAcquire(Request.of("requests", 1))).isPresent();   // the client knows the partitions now
        }
        Member owner = client.getPartitionService().getPartition(set).getOwner();
        MemberProcess victim = cluster.memberProcesses().stream()
                .filter(m -> m.memberId().equals(owner.getUuid().toString())).findFirst().orElseThrow();

        IExecutorService executor = client.getExecutorService("concurry-hammers");
        // The owner also holds one connection it never gives back: only its death can return it.
        assertThat(executor
                .submitToMember(new Hammer(set, dir.resolve("log-").toString(), 0, Duration.ofSeconds(2)), owner)
                .get(30, TimeUnit.SECONDS)).containsEntry("granted", 1L);
        Map<Member, Future<Map<String, Long>>> members = executor.submitToAllMembers(
                new Hammer(set, dir.resolve("log-").toString(), RUN.toMillis(), Duration.ofSeconds(2)));
        // This JVM gives up sooner than the failover takes: its callers see the errors, then recovery.
        Map<String, Long> here = new ConcurrentHashMap<>();
        Thread local = Thread.ofPlatform().start(() -> here.putAll(new Hammer(set, dir.resolve("log-").toString(),
                RUN.toMillis(), Duration.ofMillis(250)).run(client)));

        Thread.sleep(KILL_AFTER.toMillis());
        long killedAt = System.nanoTime();
        victim.kill();
        System.out.println("killed the owner of '" + set + "', member JVM " + victim.pid());

        local.join(RUN.multipliedBy(3).toMillis());
        List<Map<String, Long>> outcomes = new ArrayList<>(List.of(here));
        for (Map.Entry<Member, Future<Map<String, Long>>> outcome : members.entrySet()) {
            if (!outcome.getKey().getUuid().equals(owner.getUuid())) {
                outcomes.add(outcome.getValue().get(RUN.multipliedBy(3).toSeconds(), TimeUnit.SECONDS));
            }
        }
        System.out.println("survivors: " + outcomes);

        Log log = Log.read(dir, killedAt);
        System.out.println(log.grants.size() + " grants logged by " + log.jvms() + " JVMs; most held at once: "
                + log.mostHeldAtOnce() + "; most surely granted in one second: "
                + log.mostGrantedInAWindow(Duration.ofSeconds(1)) + "; killed JVM " + victim.pid() + " held "
                + log.heldAt(victim.pid(), killedAt)
                + " at the kill");
        assertThat(log.jvms()).as("every JVM was granted").isEqualTo(4);
        assertThat(log.mostHeldAtOnce()).as("connections held at once").isLessThanOrEqualTo(CONNECTIONS);
        assertThat(log.mostGrantedInAWindow(Duration.ofSeconds(1))).as("requests surely granted within one second")
                .isLessThanOrEqualTo(REQUESTS_PER_SECOND);
        assertThat(log.heldAt(victim.pid(), killedAt)).as("the killed JVM held connections").isPositive();
        for (Map<String, Long> outcome : outcomes) {
            assertThat(outcome.keySet()).as("callers saw only clear errors").allMatch(key -> key.equals("granted")
                    || key.equals(ClusterUnavailableException.class.getSimpleName()));
        }
        assertThat(log.jvmsGrantedAfter(killedAt)).as("every survivor was granted again after the kill").isEqualTo(3);
        // Every survivor gave its permits back; the dead JVM's came back when it left, not after the lease.
        try (HazelcastBackend backend = HazelcastBackend.of(client); LimitSet shared = Hammer.set(set, backend)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (shared.stats().key("db").inUse() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(shared.stats().key("db").inUse()).as("permits still held").isZero();
            assertThat(Duration.ofNanos(System.nanoTime() - killedAt)).isLessThan(LEASE);
        }
    }

    /**
     * Three threads that take one connection and one request with {@code tryAcquire} and hold them a few
     * milliseconds, for {@code millis}, on a member (as an executor task) or on this JVM; each grant and release
     * is appended to this JVM's own log file at once. Returns counts: grants, errors by type. With
     * {@code millis} 0, takes one connection and never gives it back.
     */
    public static final class Hammer implements Callable<Map<String, Long>>, Serializable, HazelcastInstanceAware {
        private static final long serialVersionUID = 1L;
        private final String setName;
        private final String logPrefix;
        private final long millis;
        private final Duration commandTimeout;
        private transient HazelcastInstance member;

        Hammer(String setName, String logPrefix, long millis, Duration commandTimeout) {
            this.setName = setName;
            this.logPrefix = logPrefix;
            this.millis = millis;
            this.commandTimeout = commandTimeout;
        }

        static LimitSet set(String name, HazelcastBackend backend) {
            return LimitSet.builder().name(name).add(ResourceLimit.of("db", CONNECTIONS))
                    .add(RateLimit.of("requests", REQUESTS_PER_SECOND, Duration.ofSeconds(1))).backend(backend).build();
        }

        @Override
        public void setHazelcastInstance(HazelcastInstance instance) {
            this.member = instance;
        }

        @Override
        public Map<String, Long> call() {
            return run(member);
        }

        Map<String, Long> run(HazelcastInstance hz) {
            if (millis == 0) {
                return holdOneForever(hz);
            }
            long pid = ProcessHandle.current().pid();
            Map<String, Long> counts = new ConcurrentHashMap<>();
            AtomicLong ids = new AtomicLong();
            Request request = Request.of("db", 1).and("requests", 1);
            try (HazelcastBackend backend = HazelcastBackend.builder(hz).leaseDuration(LEASE)
                    .commandTimeout(commandTimeout).build();
                    LimitSet limits = open(backend, counts);
                    FileChannel log = FileChannel.open(Path.of(logPrefix + pid), StandardOpenOption.CREATE,
                            StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
                List<Thread> threads = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    threads.add(Thread.ofPlatform().start(() -> {
                        while (System.nanoTime() < end) {
                            long asked = System.nanoTime();
                            try {
                                Optional<Acquisition> granted = limits.tryAcquire(request);
                                if (granted.isEmpty()) {
                                    Thread.sleep(1);
                                    continue;
                                }
                                long id = ids.incrementAndGet();
                                append(log, "G " + pid + " " + id + " " + asked + " " + System.nanoTime());
                                counts.merge("granted", 1L, Long::sum);
                                try (Acquisition held = granted.get()) {
                                    Thread.sleep(10);
                                    append(log, "R " + pid + " " + id + " " + System.nanoTime());
                                }
                            } catch (RuntimeException e) {
                                counts.merge(e.getClass().getSimpleName(), 1L, Long::sum);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    }));
                }
                for (Thread thread : threads) {
                    thread.join();
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new HashMap<>(counts);
        }

        /** The set, opened again while the cluster does not answer within the command timeout. */
        private LimitSet open(HazelcastBackend backend, Map<String, Long> counts) throws InterruptedException {
            while (true) {
                try {
                    return set(setName, backend);
                } catch (ClusterUnavailableException e) {
                    counts.merge(e.getClass().getSimpleName(), 1L, Long::sum);
                    Thread.sleep(10);
                }
            }
        }

        /** Takes one connection and keeps it, with its set and backend open, for as long as this JVM lives. */
        private Map<String, Long> holdOneForever(HazelcastInstance hz) {
            long pid = ProcessHandle.current().pid();
            LimitSet limits = set(setName, HazelcastBackend.builder(hz).leaseDuration(LEASE).build());
            long asked = System.nanoTime();
            limits.acquire(Request.of("db", 1).and("requests", 1));
            try (FileChannel log = FileChannel.open(Path.of(logPrefix + pid), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                append(log, "G " + pid + " 0 " + asked + " " + System.nanoTime());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return Map.of("granted", 1L);
        }

        private static void append(FileChannel log, String line) {
            try {
                log.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** The JVMs' logs: per grant, when it was asked, granted and released (the kill time if never released). */
    private record Log(List<long[]> grants) {
        /** {pid, asked, granted, released}. */
        static Log read(Path dir, long killedAt) throws IOException {
            Map<String, long[]> byId = new HashMap<>();
            try (var files = Files.list(dir)) {
                for (Path file : files.toList()) {
                    for (String line : Files.readAllLines(file)) {
                        String[] f = line.split(" ");
                        if (f.length == 5 && f[0].equals("G")) {
                            byId.put(f[1] + ":" + f[2], new long[] {Long.parseLong(f[1]), Long.parseLong(f[3]),
                                    Long.parseLong(f[4]), killedAt});
                        } else if (f.length == 4 && f[0].equals("R") && byId.containsKey(f[1] + ":" + f[2])) {
                            byId.get(f[1] + ":" + f[2])[3] = Long.parseLong(f[3]);
                        }
                    }
                }
            }
            // A grant the killed JVM never released is held, in the log, until the kill: in the set, longer.
            return new Log(List.copyOf(byId.values()));
        }

        long jvms() {
            return grants.stream().mapToLong(g -> g[0]).distinct().count();
        }

        long jvmsGrantedAfter(long at) {
            return grants.stream().filter(g -> g[2] > at).mapToLong(g -> g[0]).distinct().count();
        }

        long heldAt(long pid, long at) {
            return grants.stream().filter(g -> g[0] == pid && g[2] <= at && g[3] >= at).count();
        }

        int mostHeldAtOnce() {
            List<long[]> events = new ArrayList<>();
            for (long[] g : grants) {
                events.add(new long[] {g[2], 1});
                events.add(new long[] {g[3], -1});
            }
            events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
            int held = 0;
            int most = 0;
            for (long[] e : events) {
                held += (int) e[1];
                most = Math.max(most, held);
            }
            return most;
        }

        /**
         * The most grants certainly made within one window: grants whose whole [asked, granted] interval fits in
         * some interval shorter than {@code window} (the set granted each somewhere in its interval).
         */
        int mostGrantedInAWindow(Duration window) {
            List<long[]> byAsked = new ArrayList<>(grants);
            byAsked.sort((a, b) -> Long.compare(a[1], b[1]));
            int most = 0;
            for (int i = 0; i < byAsked.size(); i++) {
                long from = byAsked.get(i)[1];
                int count = 0;
                for (int j = i; j < byAsked.size() && byAsked.get(j)[1] - from < window.toNanos(); j++) {
                    if (byAsked.get(j)[2] - from < window.toNanos()) {
                        count++;
                    }
                }
                most = Math.max(most, count);
            }
            return most;
        }
    }
}
