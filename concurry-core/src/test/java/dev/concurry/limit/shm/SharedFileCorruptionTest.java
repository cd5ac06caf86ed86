package dev.concurry.limit.shm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A limit file changed behind the library's back (issue 17 S1, S4): a lock word left by a dead
 * incarnation of this very pid, and state words out of range. The file is written with plain file
 * I/O at the offsets of {@link Layout}, as a buggy peer or a stray write would.
 */
class SharedFileCorruptionTest {
    private static final List<Limit> POOL = List.of(ResourceLimit.of("conn", 5));
    private static final List<Limit> BUCKET = List
            .of(RateLimit.of("tokens", 10, Duration.ofMillis(200), RateAlgorithm.TOKEN_BUCKET));

    @TempDir
    Path dir;

    private static LimitSet open(Path file, List<Limit> limits) {
        return LimitSet.builder().name("corrupt").addAll(limits).backend(Backends.sharedMemory(file)).build();
    }

    /** Where word {@code w} of limit {@code limit}'s state is in the file. */
    private static long limitWord(List<Limit> limits, int limit, int w) {
        Layout layout = new Layout(limits);
        return layout.wordsOffset + 8L * (layout.algorithms.offset(limit) + w);
    }

    @Test
    @DisplayName("L17 S1 a lock word naming this pid with another start stamp (a dead incarnation) is taken over")
    void lock_of_a_dead_incarnation_of_this_pid_is_taken_over() throws IOException {
        Path file = dir.resolve("s1.limits");
        open(file, POOL).close();
        long forged = (Incarnation.STAMP + 1) << 32 | Incarnation.PID;
        writeLong(file, SharedFile.H_LOCK, forged);
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try (LimitSet set = open(file, POOL)) {
                assertThat(set.tryAcquire(Request.of("conn", 5))).isPresent();
            }
        }, "a lock left by a dead process that had this pid must be taken over");
        assertThat(readLong(file, SharedFile.H_LOCK)).isZero();
    }

    @Test
    @DisplayName("L17 S4 a held-permit word of -100 is repaired from the holder table on open: never more than capacity")
    void negative_held_permits_are_repaired_on_open() throws IOException {
        Path file = dir.resolve("held.limits");
        open(file, POOL).close();
        writeDouble(file, limitWord(POOL, 0, 0), -100);
        try (LimitSet set = open(file, POOL)) {
            Acquisition all = set.tryAcquire(Request.of("conn", 5)).orElseThrow();
            assertThat(set.tryAcquire(Request.of("conn", 1))).as("a sixth permit of five").isEmpty();
            assertThat(set.stats().key("conn").inUse()).isEqualTo(5);
            all.close();
            assertThat(set.stats().key("conn").inUse()).isZero();
        }
    }

    @Test
    @DisplayName("L17 S4 a NaN token count is repaired on open: acquisitions wait at most a window, not forever")
    void nan_tokens_are_repaired_on_open() throws IOException {
        Path file = dir.resolve("nan.limits");
        open(file, BUCKET).close();
        writeDouble(file, limitWord(BUCKET, 0, 0), Double.NaN);
        try (LimitSet set = open(file, BUCKET)) {
            assertThat(set.stats().key("tokens").available()).as("available after repair").isBetween(0.0, 10.0);
            set.acquire(Request.of("tokens", 1), Duration.ofSeconds(3)).close();
        }
    }

    @Test
    @DisplayName("L17 S4 a held-permit word corrupted by a peer is caught on lock and repaired from the holder table")
    void corrupted_word_published_by_a_peer_is_repaired_on_lock() throws IOException {
        Path file = dir.resolve("peer.limits");
        try (LimitSet set = open(file, POOL)) {
            Acquisition two = set.tryAcquire(Request.of("conn", 2)).orElseThrow();
            // A peer's buggy transaction: the word and its region's version.
            Layout layout = new Layout(POOL);
            writeDouble(file, limitWord(POOL, 0, 0), -100);
            long version = layout.versionsOffset + 8L * Layout.limitRegion(0);
            writeLong(file, version, readLong(file, version) + 1);

            Acquisition three = set.tryAcquire(Request.of("conn", 3)).orElseThrow();
            assertThat(set.tryAcquire(Request.of("conn", 1))).as("a sixth permit of five").isEmpty();
            three.close();
            two.close();
            assertThat(set.stats().key("conn").inUse()).isZero();
        }
    }

    @Test
    @DisplayName("L17 S4 a damaged queue of waiters and a holder slot with a NaN pid are repaired on open")
    void damaged_queue_and_holder_slot_are_repaired_on_open() throws Exception {
        Path file = dir.resolve("queue.limits");
        open(file, POOL).close();
        Layout layout = new Layout(POOL);
        long queue = layout.wordsOffset + 8L * layout.regionStart[Layout.QUEUE_REGION];
        writeDouble(file, queue + 8L * Tickets.SIZE, 1e9);
        long slot = layout.wordsOffset + 8L * (layout.holdersBase + 5 * layout.slotWords);
        writeDouble(file, slot, Double.NaN);          // no process, yet 3 permits of conn
        writeDouble(file, slot + 16, 3);
        try (LimitSet set = open(file, POOL)) {
            Acquisition all = set.tryAcquire(Request.of("conn", 5)).orElseThrow();
            // The queue works again: a waiter queues and is granted when a permit comes back.
            CompletableFuture<Acquisition> waiter = set.acquireAsync(Request.of("conn", 1));
            assertThat(waiter).isNotDone();
            all.close();
            waiter.get(10, TimeUnit.SECONDS).close();
            assertThat(set.stats().key("conn").inUse()).isZero();
        }
    }

    static long readLong(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
            ch.read(b, offset);
            return b.getLong(0);
        }
    }

    static void writeLong(Path file, long offset, long value) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, value), offset);
        }
    }

    static void writeDouble(Path file, long offset, double value) throws IOException {
        writeLong(file, offset, Double.doubleToRawLongBits(value));
    }
}
