package dev.concurry.hazelcast;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.worker.Worker;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Workers for the cluster tests; every method works in every mode. */
final class ClusterWorkers {
    /** Calls that started, by key, in this JVM (the embedded members'); lets a test wait for a remote call. */
    static final ConcurrentHashMap<String, CountDownLatch> STARTED = new ConcurrentHashMap<>();
    /** Calls that saw their interrupt, by key, in this JVM. */
    static final ConcurrentHashMap<String, Boolean> INTERRUPTED = new ConcurrentHashMap<>();

    private ClusterWorkers() {
    }

    /** What calls holding shared limits logged, by run: {asked, granted, released} in System.nanoTime(). */
    static final ConcurrentHashMap<String, java.util.Queue<long[]>> HELD = new ConcurrentHashMap<>();

    static java.util.Queue<long[]> held(String run) {
        return HELD.computeIfAbsent(run, k -> new java.util.concurrent.ConcurrentLinkedQueue<>());
    }

    /** Barriers by key, for calls that must all be running at once. */
    static final ConcurrentHashMap<String, CountDownLatch> BARRIERS = new ConcurrentHashMap<>();

    static CountDownLatch started(String key) {
        return STARTED.computeIfAbsent(key, k -> new CountDownLatch(1));
    }

    /** A stateful worker: an actor whose state persists between calls. */
    public static class Counter extends Worker {
        private final String name;
        private long total;

        public Counter(String name) {
            this.name = name;
        }

        private final java.util.concurrent.atomic.AtomicInteger inCall = new java.util.concurrent.atomic.AtomicInteger();
        private long calls;

        /**
         * Counts this call and says whether another call of this instance ran at the same moment (it
         * never should: calls on one worker run one at a time). Returns "instance:count" or "OVERLAP".
         */
        public String exclusive(String instance) throws InterruptedException {
            boolean alone = inCall.incrementAndGet() == 1;
            calls++;
            Thread.sleep(0, 200_000);
            long seen = calls;
            alone &= inCall.decrementAndGet() == 0;
            return alone ? instance + ":" + seen : "OVERLAP";
        }

        public long add(long n) {
            total += n;
            return total;
        }

        public String name() {
            return name;
        }

        public long pid() {
            return ProcessHandle.current().pid();
        }

        public String thread() {
            return Thread.currentThread().getName();
        }

        public String fail(String message) {
            throw new IllegalArgumentException(message);
        }

        public String failChecked(String message) throws java.io.IOException {
            throw new java.io.IOException(message);
        }

        public String limiterKind() {
            return limits() == LimitSet.empty() ? "empty" : ((LimitSet) limits()).backend().name();
        }

        /** Takes one unit of {@code key} from the worker's own limits, or reports that none was left. */
        public boolean tryTake(String key) {
            return limits().tryAcquire(Request.of(key, 1)).map(Acquisition::config).isPresent();
        }

        /** Takes one unit of {@code key} (kept) and says which region's set granted it, or "none". */
        public String region(String key) {
            return limits().tryAcquire(Request.of(key, 1)).map(acq -> acq.config().get("region")).orElse("none");
        }

        /**
         * Takes {@code amounts} from the worker's limits, holds them {@code holdMillis}, and logs when it asked,
         * got and gave them back (in this JVM: an independent log of the grants).
         */
        public long holdShared(String run, java.util.Map<String, Double> amounts, long holdMillis)
                throws InterruptedException {
            long asked = System.nanoTime();
            long granted;
            try (Acquisition ignored = limits().acquire(Request.of(amounts))) {
                granted = System.nanoTime();
                Thread.sleep(holdMillis);
                held(run).add(new long[] {asked, granted, System.nanoTime()});
            }
            return granted;
        }

        /** Takes {@code amounts}, signals {@code key} as started, and holds them until {@code release} is started. */
        public boolean holdUntil(String key, java.util.Map<String, Double> amounts, String release, Duration timeout)
                throws InterruptedException {
            try (Acquisition ignored = limits().acquire(Request.of(amounts))) {
                started(key).countDown();
                return started(release).await(timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
        }

        /** Signals {@code key} as started (in this JVM), then sleeps; records an interrupt. */
        public String sleep(String key, Duration duration) throws InterruptedException {
            started(key).countDown();
            try {
                Thread.sleep(duration);
            } catch (InterruptedException e) {
                INTERRUPTED.put(key, true);
                throw e;
            }
            return "slept";
        }

        /**
         * Appends "{@code key} pid" to {@code file} (visible from every JVM on the host), then sleeps and
         * returns the pid: a test sees where and how often a call started.
         */
        public long markThenSleep(String file, String key, Duration duration) throws Exception {
            java.nio.file.Files.writeString(java.nio.file.Path.of(file), key + " " + pid() + "\n",
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND,
                    java.nio.file.StandardOpenOption.WRITE);
            Thread.sleep(duration);
            return pid();
        }

        /** Arrives at barrier {@code key} of {@code parties} and waits for all of them; false on timeout. */
        public boolean meet(String key, int parties, Duration timeout) throws InterruptedException {
            CountDownLatch barrier = BARRIERS.computeIfAbsent(key, k -> new CountDownLatch(parties));
            barrier.countDown();
            return barrier.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        /** Waits until {@code key} is started elsewhere (orders two workers' calls in a test). */
        public boolean awaitStarted(String key, Duration timeout) throws InterruptedException {
            return started(key).await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
