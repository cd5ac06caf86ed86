package dev.concurry.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.core.ReadOnly;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import dev.concurry.hazelcast.StoredSet.CallRecord;
import dev.concurry.hazelcast.StoredSet.Change;
import dev.concurry.hazelcast.StoredSet.Lease;
import dev.concurry.limit.Limit;
import dev.concurry.limit.spi.Batch;
import dev.concurry.limit.spi.DecisionSink;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.SetAlgorithms;
import java.io.IOException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry processors that read and change a {@link StoredSet} on the partition thread of its owner
 * (SPEC L18b), and their replies. Each runs core's {@link SetAlgorithms} on a copy of the state, collects
 * what changed in a {@link Change}, applies it, and hands the same change to the backup
 * ({@link #getBackupProcessor}: {@link ApplyChange}); a call that changed nothing sends no backup.
 *
 * <p>Time: a processor carries the caller's test-clock reading, or {@link #OWNER_TIME} to use the
 * owner's clock ({@link #ownerNanos}); either way a change never moves the set's time backwards.
 *
 * <p>All are {@link DataSerializable}: written field by field, without Java serialization, and found by
 * class name, so that no factory has to be configured on the members.
 */
final class SetProcessors {
    private static final Logger LOG = LoggerFactory.getLogger(SetProcessors.class);
    /** "Use the owner's clock" (no test clock). */
    static final long OWNER_TIME = Long.MIN_VALUE;
    /** Settled grants remembered at most, whatever their age (a bound on the entry's size). */
    static final int MAX_SETTLED = 65_536;
    /** Origins checked for staleness once in this many changes. */
    private static final int SWEEP_EVERY = 256;

    private SetProcessors() {
    }

    /**
     * The owner's time: its wall clock in nanoseconds. Not Hazelcast's cluster time: that is the wall clock
     * plus an offset each member estimates from heartbeats, and the estimate is noisy (measured on one host,
     * where the true offset is 0: it wandered between 0 and -3 ms, and under load reached -180 ms for a
     * second); every forward step of it would shorten a window, and a failover would jump by the two
     * members' estimates. Members must therefore keep their wall clocks synchronized (NTP), as any
     * distributed limiter must; {@link ClockCheck} warns about a member whose clock is far off the cluster's.
     * A set's time never goes backwards ({@link StoredSet#now}).
     */
    static long ownerNanos(HazelcastInstance hz) {
        Instant now = Instant.now();
        if (hz != null) {
            ClockCheck.of(hz).check(now.toEpochMilli());
        }
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /** Warns, at most every ten minutes, when a member's wall clock is more than a second off the cluster's time. */
    static final class ClockCheck {
        static final long WARN_MILLIS = 1_000;
        private static final long EVERY_NANOS = TimeUnit.MINUTES.toNanos(10);
        private final HazelcastInstance member;
        private final AtomicLong warnedAt = new AtomicLong(System.nanoTime() - EVERY_NANOS);

        private ClockCheck(HazelcastInstance member) {
            this.member = member;
        }

        static ClockCheck of(HazelcastInstance member) {
            return (ClockCheck) member.getUserContext().computeIfAbsent(ClockCheck.class.getName(),
                    key -> new ClockCheck(member));
        }

        void check(long wallMillis) {
            long skew = member.getCluster().getClusterTime() - wallMillis;
            long last = warnedAt.get();
            if (Math.abs(skew) > WARN_MILLIS && System.nanoTime() - last > EVERY_NANOS
                    && warnedAt.compareAndSet(last, System.nanoTime())) {
                LOG.warn("member {}: its wall clock is {} ms off the Hazelcast cluster's time; limit sets owned here"
                        + " decide with this clock, so windows are off by as much when another member takes over:"
                        + " synchronize the members' clocks (NTP)", member.getCluster().getLocalMember().getAddress(),
                        -skew);
            }
        }
    }

    /**
     * What every processor shares: the clock reading, the member's instance (for its clock check), and the
     * change to send to the backup.
     */
    abstract static class OnSet<R>
            implements
                EntryProcessor<String, StoredSet, R>,
                DataSerializable,
                HazelcastInstanceAware {
        private static final long serialVersionUID = 1L;
        long reading = OWNER_TIME;
        private transient HazelcastInstance member;
        private transient Change applied;

        @Override
        public void setHazelcastInstance(HazelcastInstance instance) {
            this.member = instance;
        }

        /** The clock reading of this call: the caller's test clock, or the owner's clock. */
        final long reading() {
            return reading != OWNER_TIME ? reading : ownerNanos(member);
        }

        /** Applies {@code change} to {@code set} unless it is empty, and keeps it for the backup. */
        final void commit(Map.Entry<String, StoredSet> entry, StoredSet set, Change change) {
            if (change.isEmpty()) {
                return;
            }
            if (change.replacement == null) {
                set.apply(change);
                entry.setValue(set);
            } else {
                entry.setValue(change.replacement);
            }
            applied = change;
        }

        @Override
        public EntryProcessor<String, StoredSet, R> getBackupProcessor() {
            return applied == null ? null : new ApplyChange<>(applied);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeLong(reading);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            reading = in.readLong();
        }
    }

    /** On the backup: applies exactly the change the owner applied. */
    static final class ApplyChange<R> implements EntryProcessor<String, StoredSet, R>, DataSerializable {
        private static final long serialVersionUID = 1L;
        private Change change;

        /** For Hazelcast's deserialization. */
        public ApplyChange() {
        }

        ApplyChange(Change change) {
            this.change = change;
        }

        @Override
        public R process(Map.Entry<String, StoredSet> entry) {
            if (change.replacement != null) {
                entry.setValue(change.replacement);
                return null;
            }
            StoredSet set = entry.getValue();
            if (set == null || set.version != change.fromVersion) {
                // A backup missed earlier (the partition's replica versions diverged): Hazelcast re-copies the
                // partition from its owner; applying this change onto another state would corrupt it.
                LOG.warn("backup of limit set '{}' is at version {}, the change was computed from version {}; left for"
                        + " Hazelcast's replica sync to repair", entry.getKey(), set == null ? "none" : set.version,
                        change.fromVersion);
                return null;
            }
            set.apply(change);
            entry.setValue(set);
            return null;
        }

        @Override
        public EntryProcessor<String, StoredSet, R> getBackupProcessor() {
            return null;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            change.writeData(out);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            change = new Change();
            change.readData(in);
        }
    }

    // ---- opening ---------------------------------------------------------------------------------

    /**
     * Creates the set if absent; else checks that the stored limits are the caller's. Replies null when the
     * set is usable, else the stored limits (as text) for the caller's message.
     */
    static final class Open extends OnSet<String> {
        private static final long serialVersionUID = 1L;
        private List<Limit> limits;

        /** For Hazelcast's deserialization. */
        public Open() {
        }

        Open(long reading, List<Limit> limits) {
            this.reading = reading;
            this.limits = limits;
        }

        @Override
        public String process(Map.Entry<String, StoredSet> entry) {
            StoredSet set = entry.getValue();
            if (set == null) {
                commit(entry, null, Change.replacing(StoredSet.create(limits, reading())));
                return null;
            }
            return set.limits.equals(limits) ? null : CompiledLimits.describe(set.limits);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            super.writeData(out);
            CompiledLimits.write(out, limits);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            super.readData(in);
            limits = CompiledLimits.read(in);
        }
    }

    // ---- deciding --------------------------------------------------------------------------------

    /** A batch as sent: per attempt its waiter id, whether it is a try, and its resolved units. */
    static final class Attempts implements DataSerializable {
        long[] ids;
        boolean[] tries;
        int[][] limits;
        double[][] amounts;

        /** For Hazelcast's deserialization. */
        public Attempts() {
        }

        /** No attempt: a call that only gives back the grants of calls given up on. */
        static Attempts none() {
            Attempts a = new Attempts();
            a.ids = new long[0];
            a.tries = new boolean[0];
            a.limits = new int[0][];
            a.amounts = new double[0][];
            return a;
        }

        static Attempts of(Batch batch) {
            Attempts a = new Attempts();
            int n = batch.size();
            a.ids = new long[n];
            a.tries = new boolean[n];
            a.limits = new int[n][];
            a.amounts = new double[n][];
            for (int i = 0; i < n; i++) {
                ResolvedRequest r = batch.request(i);
                a.ids[i] = batch.id(i);
                a.tries[i] = batch.isTry(i);
                a.limits[i] = CompiledLimits.indexes(r);
                a.amounts[i] = CompiledLimits.amounts(r);
            }
            return a;
        }

        int size() {
            return ids.length;
        }

        ResolvedRequest request(CompiledLimits compiled, int i) {
            return compiled.resolve(limits[i], amounts[i]);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeInt(ids.length);
            for (int i = 0; i < ids.length; i++) {
                out.writeLong(ids[i]);
                out.writeBoolean(tries[i]);
                out.writeIntArray(limits[i]);
                out.writeDoubleArray(amounts[i]);
            }
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            int n = in.readInt();
            ids = new long[n];
            tries = new boolean[n];
            limits = new int[n][];
            amounts = new double[n][];
            for (int i = 0; i < n; i++) {
                ids[i] = in.readLong();
                tries[i] = in.readBoolean();
                limits[i] = in.readIntArray();
                amounts[i] = in.readDoubleArray();
            }
        }
    }

    /**
     * The answer to a {@link Decide}: per attempt granted (with its sequence number) or refused (the limits it
     * is short of, and the wait), what each limit touched has available afterwards (NaN for the others), and
     * how long until the earliest lease expires (NaN when no refused attempt is short of a permit).
     */
    static final class Decisions implements DataSerializable {
        static final byte DECIDED = 0;
        /** The set is not in the map (it was removed): the caller opens it again. */
        static final byte MISSING = 1;
        /** The map holds other limits under the set's name. */
        static final byte OTHER_LIMITS = 2;
        /** An older call than the caller's last recorded one (a late duplicate): ignored. */
        static final byte STALE = 3;

        byte status;
        boolean[] granted;
        /** Sequence number when granted, else the limits it is short of. */
        long[] values;
        double[] waits;
        double[] available;
        double untilLeaseExpiry = Double.NaN;
        String storedLimits = "";

        /** For Hazelcast's deserialization. */
        public Decisions() {
        }

        static Decisions of(byte status) {
            Decisions d = new Decisions();
            d.status = status;
            d.granted = new boolean[0];
            d.values = new long[0];
            d.waits = new double[0];
            d.available = new double[0];
            return d;
        }

        boolean anyGranted() {
            for (boolean g : granted) {
                if (g) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeByte(status);
            out.writeBooleanArray(granted);
            out.writeLongArray(values);
            out.writeDoubleArray(waits);
            out.writeDoubleArray(available);
            out.writeDouble(untilLeaseExpiry);
            out.writeString(storedLimits);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            status = in.readByte();
            granted = in.readBooleanArray();
            values = in.readLongArray();
            waits = in.readDoubleArray();
            available = in.readDoubleArray();
            untilLeaseExpiry = in.readDouble();
            storedLimits = in.readString();
        }
    }

    /**
     * Decides a batch with {@link SetAlgorithms#decide}: one call per engine round trip. Deduplicated per
     * origin: the repeat of a call already applied (its reply was lost) first undoes what that call granted,
     * so nothing is granted twice; an older call is ignored; and the grants of calls the caller gave up on
     * ({@link #abandonedFrom}) are given back. A call naming calls given up on is recorded (and backed up) even
     * when it changed nothing, so that one of them arriving after it is ignored.
     */
    static final class Decide extends OnSet<Decisions> {
        private static final long serialVersionUID = 1L;
        private long origin;
        private long callNo;
        /** The first of the caller's calls whose outcome it never learned, 0 if none (see {@link #process}). */
        private long abandonedFrom;
        private UUID holder;
        private long leaseNanos;
        /** How long a caller may still repeat or give back a call: records older than this are dropped. */
        private long keepNanos;
        private int signature;
        private Attempts attempts;

        /** For Hazelcast's deserialization. */
        public Decide() {
        }

        Decide(long reading, long origin, long callNo, long abandonedFrom, UUID holder, long leaseNanos, long keepNanos,
                int signature, Attempts attempts) {
            this.reading = reading;
            this.origin = origin;
            this.callNo = callNo;
            this.abandonedFrom = abandonedFrom;
            this.holder = holder;
            this.leaseNanos = leaseNanos;
            this.keepNanos = keepNanos;
            this.signature = signature;
            this.attempts = attempts;
        }

        @Override
        public Decisions process(Map.Entry<String, StoredSet> entry) {
            StoredSet set = entry.getValue();
            if (set == null) {
                return Decisions.of(Decisions.MISSING);
            }
            if (set.signature != signature) {
                Decisions other = Decisions.of(Decisions.OTHER_LIMITS);
                other.storedLimits = CompiledLimits.describe(set.limits);
                return other;
            }
            // A caller sends one decide call at a time per set and repeats a call only until it learns its
            // outcome, so its calls reach the owner in order: the same number again is a repeat, a smaller
            // one a duplicate that arrived late.
            CallRecord previous = set.calls.get(origin);
            if (previous != null && callNo < previous.callNo()) {
                return Decisions.of(Decisions.STALE);
            }
            CompiledLimits compiled = set.compiled();
            SetAlgorithms algorithms = compiled.algorithms;
            double now = set.now(reading());
            Change change = new Change(set, now);
            double[] s = set.state.clone();
            set.reclaimExpired(s, now, change);
            // The caller never received the recorded call's answer: a repeat of it, or one it gave up on.
            // Its grants are undone, and a repeat is decided again now: answering with grants made
            // earlier would let them be used later than the set counted them (after a failover, by
            // hundreds of milliseconds), bunching them with grants made since.
            boolean repeat = previous != null && callNo == previous.callNo();
            if (repeat || previous != null && abandonedFrom > 0 && previous.callNo() >= abandonedFrom) {
                giveBack(set, s, now, previous, compiled, change);
            }
            int n = attempts.size();
            Decisions d = new Decisions();
            d.granted = new boolean[n];
            d.values = new long[n];
            d.waits = new double[n];
            d.available = new double[compiled.limits.size()];
            Arrays.fill(d.available, Double.NaN);
            ResolvedRequest[] requests = new ResolvedRequest[n];
            for (int i = 0; i < n; i++) {
                requests[i] = attempts.request(compiled, i);
            }
            Batch batch = new Batch() {
                @Override
                public int size() {
                    return n;
                }

                @Override
                public ResolvedRequest request(int i) {
                    return requests[i];
                }

                @Override
                public long id(int i) {
                    return attempts.ids[i];
                }

                @Override
                public boolean isTry(int i) {
                    return attempts.tries[i];
                }
            };
            boolean[] shortOfPermit = new boolean[1];
            DecisionSink sink = new DecisionSink() {
                @Override
                public void granted(int i, long seq) {
                    d.granted[i] = true;
                    d.values[i] = seq;
                    if (requests[i].holdsResource()) {
                        change.leasesPut.add(Lease.of(seq, holder, now + leaseNanos, requests[i], algorithms));
                    }
                }

                @Override
                public void refused(int i, long shortOf, double wait) {
                    d.values[i] = shortOf;
                    d.waits[i] = wait;
                    for (int limit = 0; limit < d.available.length; limit++) {
                        if ((shortOf & (1L << limit)) != 0 && algorithms.isResource(limit)) {
                            shortOfPermit[0] = true;
                        }
                    }
                }

                @Override
                public void available(int limit, double units) {
                    d.available[limit] = units;
                }
            };
            algorithms.decide(s, now, batch, sink);
            algorithms.reportAvailable(s, now, batch, sink);
            if (shortOfPermit[0]) {
                d.untilLeaseExpiry = set.earliestExpiry(change) - now;
            }
            change.diff(set.state, s);
            // A call naming calls given up on is recorded even if it changed nothing (a refusal): Hazelcast may
            // still deliver one of them later (an invocation outlives its caller's command timeout), and it must
            // then be older than the last recorded call, so ignored; else it would be granted after its caller
            // stopped naming it, and its permits held, unused, until their lease expired.
            if (!change.isEmpty() || abandonedFrom > 0) {
                change.call = new CallRecord(origin, callNo, now, attempts, d);
                if (set.version % SWEEP_EVERY == 0) {
                    for (CallRecord record : set.calls.values()) {
                        if (record.origin() != origin && record.time() < now - keepNanos) {
                            change.originsDropped.add(record.origin());
                        }
                    }
                }
            }
            commit(entry, set, change);
            return d;
        }

        /**
         * Undoes the grants of {@code abandoned}, a call whose caller never learned that it was applied (its
         * reply was lost, or it gave up after the command timeout and told its waiters that nothing was
         * taken): rate limits are settled to zero use, resource permits released (if their lease is still held).
         */
        private static void giveBack(StoredSet set, double[] s, double now, CallRecord abandoned,
                CompiledLimits compiled, Change change) {
            Decisions d = abandoned.decisions();
            for (int i = 0; i < d.granted.length; i++) {
                if (!d.granted[i]) {
                    continue;
                }
                long seq = d.values[i];
                ResolvedRequest r = abandoned.attempts().request(compiled, i);
                Lease lease = set.leases.get(seq);
                boolean leased = lease != null && !change.leasesRemoved.contains(seq);
                CompiledLimits.Settlement settlement = leased || !r.holdsResource()
                        ? new CompiledLimits.Settlement(r, new double[r.size()])
                        : compiled.ratesOf(r, new double[r.size()]);
                if (settlement.request() != null) {
                    compiled.algorithms.settle(s, now, settlement.request(), seq, settlement.used());
                }
                if (leased) {
                    change.leasesRemoved.add(seq);
                }
            }
            LOG.debug("undid the grants of call {} from origin {}, whose caller never learned its outcome",
                    abandoned.callNo(), Long.toHexString(abandoned.origin()));
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            super.writeData(out);
            out.writeLong(origin);
            out.writeLong(callNo);
            out.writeLong(abandonedFrom);
            out.writeLong(holder.getMostSignificantBits());
            out.writeLong(holder.getLeastSignificantBits());
            out.writeLong(leaseNanos);
            out.writeLong(keepNanos);
            out.writeInt(signature);
            attempts.writeData(out);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            super.readData(in);
            origin = in.readLong();
            callNo = in.readLong();
            abandonedFrom = in.readLong();
            holder = new UUID(in.readLong(), in.readLong());
            leaseNanos = in.readLong();
            keepNanos = in.readLong();
            signature = in.readInt();
            attempts = new Attempts();
            attempts.readData(in);
        }
    }

    // ---- settling and leases ---------------------------------------------------------------------

    /**
     * Settles grant {@link #seq} (SPEC L13) once: rate limits to their usage, resource permits released if
     * the grant's lease is still held. Replies with {@link #RELEASED}, {@link #LEASE_EXPIRED} or
     * {@link #NO_LEASE}, plus {@link #FREED} when units came back; a repeated settlement gets the first
     * one's reply and changes nothing.
     */
    static final class Settle extends OnSet<Integer> {
        private static final long serialVersionUID = 1L;
        static final int NO_LEASE = 0;
        static final int RELEASED = 1;
        static final int LEASE_EXPIRED = 2;
        /** The set is not in the map: nothing to settle. */
        static final int MISSING = 3;
        static final int OUTCOME = 0x3;
        static final int FREED = 0x4;

        private long seq;
        private int[] limits;
        private double[] amounts;
        private double[] used;
        /** How long a repeat of this settlement may still arrive. */
        private long keepNanos;

        /** For Hazelcast's deserialization. */
        public Settle() {
        }

        Settle(long reading, long seq, ResolvedRequest r, double[] used, long keepNanos) {
            this.reading = reading;
            this.seq = seq;
            this.limits = CompiledLimits.indexes(r);
            this.amounts = CompiledLimits.amounts(r);
            this.used = used;
            this.keepNanos = keepNanos;
        }

        @Override
        public Integer process(Map.Entry<String, StoredSet> entry) {
            StoredSet set = entry.getValue();
            if (set == null) {
                return MISSING;
            }
            StoredSet.Settled done = set.settled.get(seq);
            if (done != null) {
                return (int) done.outcome();
            }
            CompiledLimits compiled = set.compiled();
            double now = set.now(reading());
            Change change = new Change(set, now);
            double[] s = set.state.clone();
            boolean freed = set.reclaimExpired(s, now, change);
            ResolvedRequest r = compiled.resolve(limits, amounts);
            int outcome = NO_LEASE;
            CompiledLimits.Settlement settlement = new CompiledLimits.Settlement(r, used);
            if (r.holdsResource()) {
                Lease lease = set.leases.get(seq);
                if (lease != null && !change.leasesRemoved.contains(seq)) {
                    change.leasesRemoved.add(seq);
                    outcome = RELEASED;
                } else {
                    settlement = compiled.ratesOf(r, used);
                    outcome = LEASE_EXPIRED;
                }
            }
            if (settlement.request() != null) {
                freed |= compiled.algorithms.settle(s, now, settlement.request(), seq, settlement.used());
            }
            change.diff(set.state, s);
            int reply = outcome | (freed ? FREED : 0);
            change.settledSeq = seq;
            change.settledOutcome = (byte) reply;
            int expired = 0;
            for (StoredSet.Settled old : set.settled.values()) {   // oldest first: times never go back
                if (old.time() >= now - keepNanos) {
                    break;
                }
                expired++;
            }
            change.settledEvicted = Math.max(expired, set.settled.size() + 1 - MAX_SETTLED);
            commit(entry, set, change);
            return reply;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            super.writeData(out);
            out.writeLong(seq);
            out.writeIntArray(limits);
            out.writeDoubleArray(amounts);
            out.writeDoubleArray(used);
            out.writeLong(keepNanos);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            super.readData(in);
            seq = in.readLong();
            limits = in.readIntArray();
            amounts = in.readDoubleArray();
            used = in.readDoubleArray();
            keepNanos = in.readLong();
        }
    }

    /**
     * Records what a provider reported ({@link dev.concurry.limit.spi.SetAlgorithms#observe}: budgets, pauses,
     * adopted limits, SPEC F2–F4) on the owner, with its clock; the backup gets exactly the change. Replies
     * {@link #RECORDED}, or {@link #MISSING} when the set is not in the map.
     */
    static final class Observe extends OnSet<Integer> {
        private static final long serialVersionUID = 1L;
        static final int RECORDED = 0;
        static final int MISSING = 1;

        private double[] remaining;
        private double[] resetNanos;
        private double[] pauseNanos;
        private double[] scale;
        private long source;

        /** For Hazelcast's deserialization. */
        public Observe() {
        }

        Observe(long reading, dev.concurry.limit.spi.Feedback feedback) {
            this.reading = reading;
            int n = feedback.size();
            remaining = new double[n];
            resetNanos = new double[n];
            pauseNanos = new double[n];
            scale = new double[n];
            for (int i = 0; i < n; i++) {
                remaining[i] = feedback.remaining(i);
                resetNanos[i] = feedback.resetNanos(i);
                pauseNanos[i] = feedback.pauseNanos(i);
                scale[i] = feedback.scale(i);
            }
            source = feedback.source();
        }

        @Override
        public Integer process(Map.Entry<String, StoredSet> entry) {
            StoredSet set = entry.getValue();
            if (set == null) {
                return MISSING;
            }
            double now = set.now(reading());
            Change change = new Change(set, now);
            double[] s = set.state.clone();
            set.compiled().algorithms.observe(s, now,
                    new dev.concurry.limit.spi.Feedback(remaining, resetNanos, pauseNanos, scale, source));
            change.diff(set.state, s);
            commit(entry, set, change);
            return RECORDED;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            super.writeData(out);
            out.writeDoubleArray(remaining);
            out.writeDoubleArray(resetNanos);
            out.writeDoubleArray(pauseNanos);
            out.writeDoubleArray(scale);
            out.writeLong(source);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            super.readData(in);
            remaining = in.readDoubleArray();
            resetNanos = in.readDoubleArray();
            pauseNanos = in.readDoubleArray();
            scale = in.readDoubleArray();
            source = in.readLong();
        }
    }

    /** Renews the leases of {@link #seqs} held by {@link #holder}; replies, per lease, whether it was still held. */
    static final class Renew extends OnSet<boolean[]> {
        private static final long serialVersionUID = 1L;
        private UUID holder;
        private long[] seqs;
        private long leaseNanos;

        /** For Hazelcast's deserialization. */
        public Renew() {
        }

        Renew(long reading, UUID holder, long[] seqs, long leaseNanos) {
            this.reading = reading;
            this.holder = holder;
            this.seqs = seqs;
            this.leaseNanos = leaseNanos;
        }

        @Override
        public boolean[] process(Map.Entry<String, StoredSet> entry) {
            boolean[] held = new boolean[seqs.length];
            StoredSet set = entry.getValue();
            if (set == null) {
                return held;
            }
            double now = set.now(reading());
            Change change = new Change(set, now);
            double[] s = set.state.clone();
            set.reclaimExpired(s, now, change);
            for (int k = 0; k < seqs.length; k++) {
                Lease lease = set.leases.get(seqs[k]);
                if (lease != null && lease.holder().equals(holder) && !change.leasesRemoved.contains(seqs[k])) {
                    change.leasesPut.add(lease.renewed(now + leaseNanos));
                    held[k] = true;
                }
            }
            change.diff(set.state, s);
            commit(entry, set, change);
            return held;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            super.writeData(out);
            out.writeLong(holder.getMostSignificantBits());
            out.writeLong(holder.getLeastSignificantBits());
            out.writeLongArray(seqs);
            out.writeLong(leaseNanos);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            super.readData(in);
            holder = new UUID(in.readLong(), in.readLong());
            seqs = in.readLongArray();
            leaseNanos = in.readLong();
        }
    }

    /** Releases every permit {@link #holder} holds (a member that left the cluster); replies how many leases. */
    static final class ReleaseHolder extends OnSet<Integer> {
        private static final long serialVersionUID = 1L;
        private UUID holder;

        /** For Hazelcast's deserialization. */
        public ReleaseHolder() {
        }

        ReleaseHolder(UUID holder) {
            this.holder = holder;
        }

        @Override
        public Integer process(Map.Entry<String, StoredSet> entry) {
            StoredSet set = entry.getValue();
            if (set == null) {
                return 0;
            }
            // Releasing does not depend on time: the set's time stays where it is.
            Change change = new Change(set, set.last);
            double[] s = set.state.clone();
            int released = 0;
            for (Lease lease : set.leases.values()) {
                if (lease.holder().equals(holder)) {
                    set.release(s, lease, change);
                    released++;
                }
            }
            change.diff(set.state, s);
            commit(entry, set, change);
            return released;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            super.writeData(out);
            out.writeLong(holder.getMostSignificantBits());
            out.writeLong(holder.getLeastSignificantBits());
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            super.readData(in);
            holder = new UUID(in.readLong(), in.readLong());
        }
    }

    // ---- reading ---------------------------------------------------------------------------------

    /**
     * Reads every limit's available and in-use units (expired leases count as given back), changing
     * nothing: {@code [available0, inUse0, available1, inUse1, ...]}, or an empty array if the set is missing.
     */
    static final class Read extends OnSet<double[]> implements ReadOnly {
        private static final long serialVersionUID = 1L;

        /** For Hazelcast's deserialization. */
        public Read() {
        }

        Read(long reading) {
            this.reading = reading;
        }

        @Override
        public double[] process(Map.Entry<String, StoredSet> entry) {
            StoredSet set = entry.getValue();
            if (set == null) {
                return new double[0];
            }
            double now = set.now(reading());
            double[] s = set.state.clone();
            set.reclaimExpired(s, now, new Change(set, now));
            SetAlgorithms algorithms = set.compiled().algorithms;
            int n = set.limits.size();
            double[] usage = new double[2 * n];
            for (int i = 0; i < n; i++) {
                usage[2 * i] = algorithms.available(s, i, now);
                usage[2 * i + 1] = algorithms.inUse(s, i, now);
            }
            return usage;
        }

        @Override
        public EntryProcessor<String, StoredSet, double[]> getBackupProcessor() {
            return null;
        }
    }
}
