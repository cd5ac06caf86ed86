package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.worker.ProcessWorkers.Calc;
import dev.concurry.worker.ProcessWorkers.Point;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Process workers (SPEC W8) and the rules every mode shares (W6, W7). Child JVMs: small pools. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProcessWorkerTest {
    private static final Duration LONG = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    static WorkerOptions<Calc> options(Mode mode) {
        return Worker.options(Calc.class).mode(mode).jvmOptions(ProcessWorkers.JVM)
                .closeTimeout(Duration.ofSeconds(20));
    }

    static List<Long> pids(WorkerPool<?> pool) {
        return ((SlotDispatcher<?>) ((LocalWorkerPool<?>) pool).dispatcher()).endpoints().stream()
                .map(e -> ((ChildProcess) e).pid()).toList();
    }

    static void assertAllDead(List<Long> pids) {
        for (long pid : pids) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                    .as("child process %d is alive", pid).isFalse();
        }
    }

    private void awaitFile(String name) throws InterruptedException {
        long deadline = System.nanoTime() + LONG.toNanos();
        while (!Files.exists(dir.resolve(name))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the worker never wrote " + name);
            }
            Thread.sleep(5);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "PROCESS"})
    void w2_w6_w8_oneWorkerClassRunsUnchangedInThreadAndProcessMode(Mode mode) {
        try (WorkerPool<Calc> pool = options(mode).init(Calc::new)) {
            long pid = pool.call(Calc::pid);
            assertThat(pid == ProcessHandle.current().pid()).isEqualTo(mode != Mode.PROCESS);
            assertThat((String) pool.call(w -> w.echo("hi"))).isEqualTo("hi@" + pid);
            assertThat((Point) pool.call(w -> new Point(1, 2, List.of("a", "b"))))
                    .isEqualTo(new Point(1, 2, List.of("a", "b")));
            assertThat((String) pool.call(Calc::limiterKind)).isEqualTo("empty");
            assertThat((String) pool.call(Calc::noisy)).isEqualTo("quiet");

            CompletableFuture<String> unchecked = pool.submit(w -> w.failUnchecked("bad"));
            CompletableFuture<String> checked = pool.submit(w -> w.failChecked("io"));
            assertThatThrownBy(unchecked::get).isInstanceOf(ExecutionException.class)
                    .cause().isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("bad");
            assertThatThrownBy(checked::get).cause().isExactlyInstanceOf(IOException.class).hasMessage("io");
            assertThatThrownBy(() -> pool.call(w -> w.failUnchecked("direct")))
                    .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("direct");
            assertThat((Integer) pool.call(w -> w.add(5))).as("a failing call never kills its worker").isEqualTo(5);
        }
    }

    @Test
    void w2_w8_callsOnOneProcessWorkerRunOneAtATimeInOrder() {
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).init(Calc::new)) {
            List<CompletableFuture<Integer>> sums = IntStream.rangeClosed(1, 30)
                    .mapToObj(i -> pool.submit(w -> w.add(i))).toList();
            List<Integer> expected = new ArrayList<>();
            int total = 0;
            for (int i = 1; i <= 30; i++) {
                total += i;
                expected.add(total);
            }
            assertThat(sums.stream().map(CompletableFuture::join).toList()).isEqualTo(expected);
            assertThat(pool.stats().workers().get(0).completed()).isEqualTo(30);
        }
    }

    @Test
    void w6_w8_cancellingQueuedAndRunningCallsOnAProcessWorker() throws Exception {
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).init(Calc::new)) {
            String d = dir.toString();
            CompletableFuture<String> running = pool.submit(w -> w.sleep(d, LONG));
            CompletableFuture<Integer> queued = pool.submit(w -> w.add(100));
            awaitFile("started");

            assertThat(queued.cancel(true)).isTrue();
            assertThat(running.cancel(true)).isTrue();
            assertThatThrownBy(running::join).isInstanceOf(CancellationException.class);
            awaitFile("interrupted"); // the cancel reached the call in the child

            assertThat((Integer) pool.call(w -> w.add(1))).as("the queued call never ran; the worker lives on")
                    .isEqualTo(1);
            assertThat(pool.stats().workers().get(0).active()).isZero();
        }
    }

    @Test
    void w8_aKilledChildFailsItsCallsAtOnceAndIsReplaced() throws Exception {
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).init(Calc::new)) {
            long first = pool.call(Calc::pid);
            pool.call(w -> w.add(10));
            String d = dir.toString();
            CompletableFuture<String> running = pool.submit(w -> w.sleep(d, LONG));
            CompletableFuture<Integer> queued = pool.submit(w -> w.add(1));
            awaitFile("started");

            long killedAt = System.nanoTime();
            assertThat(ProcessHandle.of(first).orElseThrow().destroyForcibly()).isTrue();

            assertThatThrownBy(() -> running.get(20, TimeUnit.SECONDS)).cause()
                    .isInstanceOf(WorkerDiedException.class)
                    .hasMessageContaining("worker process " + first + " exited with code 137")
                    .hasMessageContaining("while running call");
            assertThatThrownBy(() -> queued.get(20, TimeUnit.SECONDS)).cause()
                    .isInstanceOf(WorkerDiedException.class).hasMessageContaining("before running this call");
            assertThat(Duration.ofNanos(System.nanoTime() - killedAt)).isLessThan(Duration.ofSeconds(10));
            WorkerDiedException died = (WorkerDiedException) running
                    .handle((v, e) -> e instanceof java.util.concurrent.CompletionException ? e.getCause() : e).join();
            assertThat(died.pid()).isEqualTo(first);
            assertThat(died.exitCode()).isEqualTo(137);

            long second = pool.call(Calc::pid);
            assertThat(second).as("a new child serves later calls").isNotEqualTo(first);
            assertThat((Integer) pool.call(w -> w.add(1))).as("with a fresh worker").isEqualTo(1);
        }
    }

    @Test
    void w7_w8_closeFinishesQueuedCallsAndLeavesNoChildAlive() {
        List<Long> pids;
        List<CompletableFuture<Integer>> results = new ArrayList<>();
        WorkerPool<Calc> pool = options(Mode.PROCESS).maxWorkers(2).init(Calc::new);
        pids = pids(pool);
        assertThat(pids).hasSize(2).doesNotHaveDuplicates();
        for (int i = 0; i < 10; i++) {
            results.add(pool.submit(w -> w.add(1)));
        }
        pool.close();
        assertThat(results).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
        assertAllDead(pids);
        assertThatThrownBy(() -> pool.submit(Calc::pid)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void w7_w8_closeKillsAChildWhoseCallIgnoresInterruptsAfterTheTimeout() throws Exception {
        WorkerPool<Calc> pool = options(Mode.PROCESS).closeTimeout(Duration.ofMillis(200)).cancelQueuedOnClose(true)
                .init(Calc::new);
        List<Long> pids = pids(pool);
        String d = dir.toString();
        CompletableFuture<String> stubborn = pool.submit(w -> w.stubborn(d, LONG));
        CompletableFuture<Integer> queued = pool.submit(w -> w.add(1));
        awaitFile("started");
        long start = System.nanoTime();
        pool.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));
        assertThat(queued).isCancelled();
        assertThat(stubborn).isDone();
        assertAllDead(pids);
    }

    @Test
    void w8_aFailingFactoryFailsInitWithItsException() {
        WorkerFactory<Calc> failing = () -> {
            throw new IllegalStateException("no database");
        };
        assertThatThrownBy(() -> options(Mode.PROCESS).init(failing))
                .isExactlyInstanceOf(IllegalStateException.class).hasMessage("no database");
    }

    @Test
    void w8_whatCannotCrossThePipeIsReportedClearly() {
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).init(Calc::new)) {
            assertThatThrownBy(() -> pool.call(Calc::unserializableResult))
                    .isInstanceOf(SerializationFailedException.class)
                    .hasMessageContaining(ProcessWorkers.Opaque.class.getName())
                    .hasMessageContaining("Opaque[secret-ish state]");
            assertThatThrownBy(() -> pool.call(Calc::unserializableFailure))
                    .isInstanceOf(SerializationFailedException.class)
                    .hasMessageContaining(ProcessWorkers.OpaqueException.class.getName())
                    .hasMessageContaining("failed holding Opaque[inside]")
                    .satisfies(
                            e -> assertThat(e.getStackTrace()[0].getMethodName()).isEqualTo("unserializableFailure"));

            Object notSerializable = new Object();
            assertThatThrownBy(() -> pool.submit(w -> w.echo(notSerializable.toString())))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("serializable");

            assertThat((Integer) pool.call(w -> w.add(2))).as("the worker lives on").isEqualTo(2);
        }
    }

    @Test
    void w8_theFilterRefusesForbiddenClassesUnlessAllowed() throws Exception {
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).init(Calc::new)) {
            assertThatThrownBy(() -> pool.call(Calc::forbiddenResult))
                    .isInstanceOf(SerializationFailedException.class)
                    .hasMessageContaining("class javax.management.ObjectName is refused")
                    .hasMessageContaining("serializationFilter(\"javax.management.*\")");
            javax.management.ObjectName name = new javax.management.ObjectName("concurry:type=Captured");
            assertThatThrownBy(() -> pool.call(w -> w.echo(name.toString())))
                    .as("the child's filter refuses what a call captures")
                    .isInstanceOf(SerializationFailedException.class)
                    .hasMessageContaining("cannot read call #")
                    .hasMessageContaining("class javax.management.ObjectName is refused");
            assertThat((Integer) pool.call(w -> w.add(1))).isEqualTo(1);
        }
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).serializationFilter("javax.management.ObjectName")
                .init(Calc::new)) {
            assertThat((Object) pool.call(Calc::forbiddenResult)).hasToString("concurry:type=Test");
        }
    }

    @Test
    void w8_filterUnit_refusesJdkInternalsAndLimitsAllowsValuesAndLambdas() throws Exception {
        ProcessProtocol.Filter.Config config = ProcessProtocol.Filter.Config.of(Calc.class.getName(), null);
        ClassLoader loader = getClass().getClassLoader();
        byte[] forbidden = ProcessProtocol.serialize(new javax.management.ObjectName("a:b=c"));
        assertThatThrownBy(() -> ProcessProtocol.deserialize(forbidden, config, loader, "a test value"))
                .isInstanceOf(SerializationFailedException.class)
                .hasMessageContaining("javax.management.ObjectName is refused");

        WorkerCall<Calc, Integer> lambda = w -> w.add(3);
        Object values = List.of(1L, "s", Duration.ofSeconds(1), new java.math.BigDecimal("1.5"),
                new java.util.HashMap<>(java.util.Map.of("k", new int[] {1, 2})), new Point(1, 2, List.of()), lambda,
                new IOException("x"), java.time.Instant.EPOCH);
        Object back = ProcessProtocol.deserialize(ProcessProtocol.serialize(values), config, loader, "values");
        assertThat(back).isInstanceOf(List.class);
        @SuppressWarnings("unchecked")
        WorkerCall<Calc, Integer> copy = (WorkerCall<Calc, Integer>) ((List<?>) back).get(6);
        assertThat(copy.call(new Calc())).isEqualTo(3);

        Object deep = List.of(List.of(List.of(List.of("deep"))));
        ProcessProtocol.Filter.Config shallow = ProcessProtocol.Filter.Config.of(Calc.class.getName(), "maxdepth=3");
        assertThatThrownBy(() -> ProcessProtocol.deserialize(ProcessProtocol.serialize(deep), shallow, loader, "deep"))
                .isInstanceOf(SerializationFailedException.class).hasMessageContaining("maxdepth");
        ProcessProtocol.Filter.Config noTime = ProcessProtocol.Filter.Config.of(Calc.class.getName(), "!java.time.**");
        assertThatThrownBy(
                () -> ProcessProtocol.deserialize(ProcessProtocol.serialize(Duration.ZERO), noTime, loader, "t"))
                .isInstanceOf(SerializationFailedException.class);
    }

    @Test
    void w4_w8_aPoolOfProcessWorkersSpreadsCallsOverItsChildren() {
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).maxWorkers(3).init(Calc::new)) {
            List<Long> pids = pids(pool);
            List<Long> seen = IntStream.range(0, 6).mapToObj(i -> pool.submit(Calc::pid)).toList()
                    .stream().map(CompletableFuture::join).toList();
            assertThat(seen).containsExactlyElementsOf(List.of(pids.get(0), pids.get(1), pids.get(2),
                    pids.get(0), pids.get(1), pids.get(2)));
            assertThat(pool.stats().workers()).hasSize(3);
        }
    }

    @Test
    void w8_onDemandProcessPoolsAreRefused() {
        assertThatThrownBy(() -> options(Mode.PROCESS).onDemand(true).init(Calc::new))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("onDemand");
    }

    /** The most intervals [enter, exit] of the log open at once (exits sort before enters at a tie). */
    static int maxConcurrent(Path log) throws IOException {
        List<long[]> events = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            String[] parts = line.split(" ");
            events.add(new long[] {Long.parseLong(parts[2]), parts[0].equals("enter") ? 1 : -1});
        }
        events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        int open = 0;
        int max = 0;
        for (long[] e : events) {
            open += (int) e[1];
            max = Math.max(max, open);
        }
        return max;
    }

    @Test
    void l17_l20_w8_scenario2_20ProcessWorkersShareDbConn5ThroughSharedMemory() throws Exception {
        Path file = dir.resolve("db.limits");
        Path log = Files.createFile(dir.resolve("holders.log"));
        int workers = 20;
        try (dev.concurry.limit.LimitSet db = dev.concurry.limit.LimitSet.builder().name("scenario2-db")
                .add(dev.concurry.limit.ResourceLimit.of("db_conn", 5))
                .backend(dev.concurry.limit.Backends.sharedMemory(file)).build();
                WorkerPool<Calc> pool = options(Mode.PROCESS).maxWorkers(workers).limits(db).init(Calc::new)) {
            assertThat(pids(pool)).hasSize(workers).doesNotHaveDuplicates();
            String l = log.toString();
            List<CompletableFuture<String>> calls = IntStream.range(0, workers * 2)
                    .mapToObj(i -> pool.submit(w -> w.hold(l, 50))).toList();
            // The parent holds connections too, through the same set: the quota spans every process.
            for (int i = 0; i < 10; i++) {
                try (dev.concurry.limit.Acquisition acq = db.acquire(dev.concurry.limit.Request.of("db_conn", 1))) {
                    Files.writeString(log, "enter 0 " + System.nanoTime() + "\n",
                            java.nio.file.StandardOpenOption.APPEND);
                    Thread.sleep(20);
                    Files.writeString(log, "exit 0 " + System.nanoTime() + "\n",
                            java.nio.file.StandardOpenOption.APPEND);
                }
            }
            assertThat(Futures.gather(calls)).hasSize(workers * 2).containsOnly("held");
            assertThat(pool.call(Calc::limiterKind)).isEqualTo("shared-memory");
        }
        assertThat(Files.readAllLines(log)).hasSize((workers * 2 + 10) * 2);
        int max = maxConcurrent(log);
        assertThat(max).as("never more than 5 holders at once").isLessThanOrEqualTo(5).isGreaterThanOrEqualTo(2);
    }

    @Test
    @DisplayName("L20 L21 W8 the seed's multi-region pool in process workers: two shared-memory regions, config in the child, no window over quota")
    void l20_l21_w8_aLimitPoolOfSharedSetsWorksInProcessWorkers() throws Exception {
        Path log = Files.createFile(dir.resolve("regions.log"));
        long windowNanos = Duration.ofMillis(300).toNanos();
        double quota = 10;
        try (dev.concurry.limit.LimitSet usEast = regionSet("us-east-1", quota, windowNanos);
                dev.concurry.limit.LimitSet euWest = regionSet("eu-west-1", quota, windowNanos);
                WorkerPool<Calc> pool = options(Mode.PROCESS).maxWorkers(3)
                        .limits(dev.concurry.limit.LimitPool.of(usEast, euWest)).init(Calc::new)) {
            String l = log.toString();
            List<CompletableFuture<String>> calls = IntStream.range(0, 60)
                    .mapToObj(i -> pool.submit(w -> w.region(l, 1)))
                    .toList();
            assertThat(Futures.gather(calls)).containsOnly("us-east-1", "eu-west-1").contains("us-east-1", "eu-west-1");
        }
        // Independent check per region: grants certainly made inside one window never exceed its quota.
        java.util.Map<String, List<long[]>> byRegion = new java.util.HashMap<>();
        for (String line : Files.readAllLines(log)) {
            String[] parts = line.split(" ");
            byRegion.computeIfAbsent(parts[0], r -> new java.util.ArrayList<>())
                    .add(new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2])});
        }
        assertThat(byRegion).containsOnlyKeys("us-east-1", "eu-west-1");
        for (var entry : byRegion.entrySet()) {
            List<long[]> grants = entry.getValue();
            grants.sort(java.util.Comparator.comparingLong(g -> g[0]));
            for (int i = 0; i < grants.size(); i++) {
                long start = grants.get(i)[0];
                int inside = 0;
                for (int j = i; j < grants.size() && grants.get(j)[0] < start + windowNanos; j++) {
                    if (grants.get(j)[1] < start + windowNanos) {
                        inside++;
                    }
                }
                assertThat(inside).as("%s: grants certainly in one window", entry.getKey())
                        .isLessThanOrEqualTo((int) quota);
            }
        }
    }

    @Test
    @DisplayName("L20 a pool with a member that cannot span processes is refused at init(), naming the member")
    void l20_aPoolWithAnInMemoryMemberIsRefusedNamingIt() {
        try (dev.concurry.limit.LimitSet shared = regionSet("us-east-1", 10, Duration.ofSeconds(1).toNanos());
                dev.concurry.limit.LimitSet local = dev.concurry.limit.LimitSet.builder().name("local-region")
                        .add(dev.concurry.limit.RateLimit.of("tpm", 10, Duration.ofSeconds(1))).build()) {
            var options = options(Mode.PROCESS).limits(dev.concurry.limit.LimitPool.of(shared, local));
            assertThatThrownBy(() -> options.init(Calc::new)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("local-region").hasMessageContaining("in-memory");
        }
    }

    private dev.concurry.limit.LimitSet regionSet(String region, double quota, long windowNanos) {
        return dev.concurry.limit.LimitSet.builder().name("regions-" + region + "-" + System.nanoTime())
                .add(dev.concurry.limit.RateLimit.of("tpm", quota, Duration.ofNanos(windowNanos)))
                .config("region", region)
                .backend(dev.concurry.limit.Backends.sharedMemory(dir.resolve(region + ".limits"))).build();
    }

    @Test
    void l20_w3_w8_plainSpecsBecomeOneSharedMemorySetForTheWholeProcessPool() throws Exception {
        Path log = dir.resolve("one.log");
        String l = log.toString();
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).maxWorkers(2)
                .limits(dev.concurry.limit.ResourceLimit.of("db_conn", 1)).init(Calc::new)) {
            assertThat((String) pool.call(Calc::limiterKind)).isEqualTo("shared-memory");
            List<CompletableFuture<String>> calls = IntStream.range(0, 6).mapToObj(i -> pool.submit(w -> w.hold(l, 30)))
                    .toList();
            assertThat(Futures.gather(calls)).containsOnly("held");
        }
        assertThat(maxConcurrent(log)).as("one connection for both children").isEqualTo(1);

        try (WorkerPool<Calc> pool = options(Mode.PROCESS).sharedLimits(false)
                .limits(dev.concurry.limit.ResourceLimit.of("db_conn", 1)).init(Calc::new)) {
            assertThat((String) pool.call(Calc::limiterKind)).as("a private quota per worker").isEqualTo("in-memory");
        }
    }

    @Test
    void w9_w8_taskExecutorRunsPlainFunctionsInProcesses() {
        try (TaskExecutor tasks = TaskExecutor.options().mode(Mode.PROCESS).maxWorkers(2)
                .jvmOptions(ProcessWorkers.JVM).init()) {
            List<Integer> doubled = Futures.gather(tasks.map(List.of(1, 2, 3, 4), x -> x * 2));
            assertThat(doubled).containsExactly(2, 4, 6, 8);
            long pid = tasks.submit(() -> ProcessHandle.current().pid()).join();
            assertThat(pid).isNotEqualTo(ProcessHandle.current().pid());
        }
    }

    @Test
    void w8_aChildJvmThatCannotStartFailsInitClearly() {
        assertThatThrownBy(() -> Worker.options(Calc.class).mode(Mode.PROCESS).jvmOptions("-XX:+NoSuchConcurryOption")
                .init(Calc::new))
                .isInstanceOf(WorkerDiedException.class).hasMessageContaining("before it was ready");
    }

    @Test
    @DisplayName("E2 W6/W8 a failure the child cannot even describe (stack overflow) still answers, and the worker"
            + " serves the next call")
    void w6_w8_aFailureThatOverflowsTheStackWhenDescribedStillAnswers() throws Exception {
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).init(Calc::new)) {
            pool.call(w -> w.add(2));
            CompletableFuture<String> failing = pool.submit(Calc::indescribableFailure);
            assertThatThrownBy(() -> failing.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(SerializationFailedException.class)
                    .hasMessageContaining(ProcessWorkers.CyclicException.class.getName())
                    .hasMessageContaining("StackOverflowError");
            assertThat(pool.submit(w -> w.add(1)).get(30, TimeUnit.SECONDS))
                    .as("the same child, its runner alive, its state kept").isEqualTo(3);
        }
    }

    @Test
    @DisplayName("E2 W8 a call running past callTimeout fails with CallTimeoutException; its child is killed and"
            + " replaced")
    void w8_aCallPastItsTimeoutKillsAndReplacesTheChild() throws Exception {
        Duration timeout = Duration.ofSeconds(2);
        try (WorkerPool<Calc> pool = options(Mode.PROCESS).callTimeout(timeout).init(Calc::new)) {
            long first = pool.call(Calc::pid);
            assertThat((Integer) pool.call(w -> w.add(5))).as("calls within the timeout are untouched").isEqualTo(5);
            String d = dir.toString();
            CompletableFuture<String> hung = pool.submit(w -> w.stubborn(d, LONG));   // ignores interrupts
            CompletableFuture<Integer> queued = pool.submit(w -> w.add(1));
            awaitFile("started");

            assertThatThrownBy(() -> hung.get(30, TimeUnit.SECONDS)).cause()
                    .isExactlyInstanceOf(CallTimeoutException.class)
                    .hasMessageContaining("worker process " + first)
                    .hasMessageContaining("did not finish within the call timeout of PT2S")
                    .satisfies(e -> {
                        CallTimeoutException timedOut = (CallTimeoutException) e;
                        assertThat(timedOut.pid()).isEqualTo(first);
                        assertThat(timedOut.timeout()).isEqualTo(timeout);
                        assertThat(timedOut.exitCode()).isEqualTo(137);
                    });
            assertThatThrownBy(() -> queued.get(30, TimeUnit.SECONDS)).cause()
                    .isInstanceOf(WorkerDiedException.class)
                    .hasMessageContaining("was killed (call #").hasMessageContaining("the call timeout of PT2S")
                    .hasMessageContaining("before running this call");
            assertAllDead(List.of(first));

            long second = pool.call(Calc::pid);
            assertThat(second).as("a fresh child serves later calls").isNotEqualTo(first);
            assertThat((Integer) pool.call(w -> w.add(1))).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("E2 W8 callTimeout is refused for modes whose calls cannot be killed, and must be positive")
    void w8_callTimeoutNeedsProcessMode() {
        assertThatThrownBy(() -> options(Mode.THREAD).callTimeout(Duration.ofSeconds(1)).init(Calc::new))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Mode.PROCESS")
                .hasMessageContaining("THREAD");
        assertThatThrownBy(() -> options(Mode.PROCESS).callTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("callTimeout must be positive");
    }

    @Test
    @DisplayName("E3 W8 a child JVM that cannot start fails init with its own message, from stdout or stderr")
    void w8_aChildJvmThatCannotStartSaysWhyInItsOwnWords() {
        // The JVM prints this one on stdout, where the parent expects frames.
        assertThatThrownBy(() -> Worker.options(Calc.class).mode(Mode.PROCESS).jvmOptions("-Xmx1k").init(Calc::new))
                .isInstanceOf(WorkerDiedException.class)
                .hasMessageContaining("Error occurred during initialization of VM")
                .hasMessageContaining("Too small maximum heap")
                .hasMessageContaining("before it was ready");
        // And this one on stderr.
        assertThatThrownBy(() -> Worker.options(Calc.class).mode(Mode.PROCESS).jvmOptions("-XX:+NoSuchConcurryOption")
                .init(Calc::new))
                .isInstanceOf(WorkerDiedException.class)
                .hasMessageContaining("Unrecognized VM option 'NoSuchConcurryOption'");
    }
}
