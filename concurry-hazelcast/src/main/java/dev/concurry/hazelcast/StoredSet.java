package dev.concurry.hazelcast;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import dev.concurry.limit.Limit;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.SetAlgorithms;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * One limit set in the cluster: the value of its entry in the limits map (SPEC L18b). Changed only by
 * the entry processors of {@link SetProcessors}, on the partition thread of the entry's owner, one at a
 * time; the backup member receives each {@link Change} the owner applied and applies the same change, so
 * that both hold exactly the same state (the algorithms never run twice, nor with another clock).
 *
 * <p>What it holds:
 * <ul>
 *   <li>the limits (the identity of the set: a JVM declaring the name with other limits is refused);</li>
 *   <li>the {@link SetAlgorithms} state, whose times are nanoseconds since {@link #epoch} (a wall-clock
 *       or test-clock reading), never earlier than {@link #last}, so time never goes backwards;</li>
 *   <li>{@link #version}: the number of changes applied, so that a backup applies a change only onto the
 *       state it was computed from;</li>
 *   <li>resource leases by grant sequence number: holder (member or client id), expiry, permits;</li>
 *   <li>per caller (an "origin": one open set in one JVM) its last call that changed something, with what
 *       it asked and granted, so that a call repeated after an unknown outcome first undoes its earlier grants
 *       (never a second grant), and a call its caller gave up on can be given back;</li>
 *   <li>the grants settled recently, so that a repeated settlement applies once.</li>
 * </ul>
 */
final class StoredSet implements DataSerializable {
    List<Limit> limits;
    int signature;
    long epoch;
    double last;
    long version;
    double[] state;
    final Map<Long, Lease> leases = new HashMap<>();
    final Map<Long, CallRecord> calls = new HashMap<>();
    /** Settled grant sequence numbers, oldest first, with what settling them did. */
    final LinkedHashMap<Long, Settled> settled = new LinkedHashMap<>();
    private transient CompiledLimits compiled;
    /** Earliest lease expiry, NaN when unknown (recomputed on demand). */
    private transient double earliestExpiry = Double.NaN;

    /** For Hazelcast's deserialization. */
    public StoredSet() {
    }

    static StoredSet create(List<Limit> limits, long epoch) {
        StoredSet set = new StoredSet();
        set.limits = List.copyOf(limits);
        set.signature = CompiledLimits.signature(set.limits);
        set.epoch = epoch;
        set.state = set.compiled().algorithms.newState(0);
        return set;
    }

    CompiledLimits compiled() {
        if (compiled == null) {
            compiled = CompiledLimits.of(limits);
        }
        return compiled;
    }

    /** The set's time for a clock reading: nanoseconds since the epoch, never before the last change. */
    double now(long reading) {
        return Math.max((double) (reading - epoch), last);
    }

    /** Earliest expiry of the leases held once {@code pending} is applied; NaN when none is held. */
    double earliestExpiry(Change pending) {
        double earliest = Double.POSITIVE_INFINITY;
        if (pending.leasesRemoved.isEmpty() && pending.leasesPut.isEmpty()) {
            earliest = earliestExpiry();
        } else {
            for (Lease lease : leases.values()) {
                if (!pending.leasesRemoved.contains(lease.seq) && !pending.puts(lease.seq)) {
                    earliest = Math.min(earliest, lease.expiry);
                }
            }
            for (Lease lease : pending.leasesPut) {
                earliest = Math.min(earliest, lease.expiry);
            }
        }
        return earliest == Double.POSITIVE_INFINITY ? Double.NaN : earliest;
    }

    private double earliestExpiry() {
        if (Double.isNaN(earliestExpiry)) {
            double earliest = Double.POSITIVE_INFINITY;
            for (Lease lease : leases.values()) {
                earliest = Math.min(earliest, lease.expiry);
            }
            earliestExpiry = earliest;
        }
        return earliestExpiry;
    }

    /**
     * Gives back, in {@code s}, the permits of every lease expired at {@code now} (a holder that stopped
     * renewing: crashed, cut off, or paused longer than the lease) and records their removal in {@code change}.
     *
     * @return whether any permit came back
     */
    boolean reclaimExpired(double[] s, double now, Change change) {
        if (leases.isEmpty() || !(earliestExpiry() <= now)) {
            return false;
        }
        boolean any = false;
        for (Lease lease : leases.values()) {
            if (lease.expiry <= now) {
                release(s, lease, change);
                any = true;
            }
        }
        return any;
    }

    /** Gives back, in {@code s}, the permits of {@code lease}, and records its removal in {@code change}. */
    void release(double[] s, Lease lease, Change change) {
        SetAlgorithms algorithms = compiled().algorithms;
        for (int k = 0; k < lease.limits.length; k++) {
            algorithms.release(s, lease.limits[k], lease.permits[k]);
        }
        change.leasesRemoved.add(lease.seq);
    }

    /** Applies {@code c}, exactly as on the owner; the caller checked {@link Change#fromVersion}. */
    void apply(Change c) {
        for (int k = 0; k < c.words.length; k++) {
            state[c.words[k]] = c.values[k];
        }
        for (long seq : c.leasesRemoved) {
            leases.remove(seq);
        }
        for (Lease lease : c.leasesPut) {
            leases.put(lease.seq, lease);
        }
        if (!c.leasesRemoved.isEmpty() || !c.leasesPut.isEmpty()) {
            earliestExpiry = Double.NaN;
        }
        for (long origin : c.originsDropped) {
            calls.remove(origin);
        }
        if (c.call != null) {
            calls.put(c.call.origin, c.call);
        }
        if (c.settledSeq != 0) {
            Iterator<Long> oldest = settled.keySet().iterator();
            for (int k = 0; k < c.settledEvicted && oldest.hasNext(); k++) {
                oldest.next();
                oldest.remove();
            }
            settled.put(c.settledSeq, new Settled(c.last, c.settledOutcome));
        }
        last = c.last;
        version = c.fromVersion + 1;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
        CompiledLimits.write(out, limits);
        out.writeLong(epoch);
        out.writeDouble(last);
        out.writeLong(version);
        out.writeDoubleArray(state);
        out.writeInt(leases.size());
        for (Lease lease : leases.values()) {
            lease.write(out);
        }
        out.writeInt(calls.size());
        for (CallRecord call : calls.values()) {
            call.write(out);
        }
        out.writeInt(settled.size());
        for (Map.Entry<Long, Settled> entry : settled.entrySet()) {
            out.writeLong(entry.getKey());
            out.writeDouble(entry.getValue().time());
            out.writeByte(entry.getValue().outcome());
        }
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
        limits = List.copyOf(CompiledLimits.read(in));
        signature = CompiledLimits.signature(limits);
        epoch = in.readLong();
        last = in.readDouble();
        version = in.readLong();
        state = in.readDoubleArray();
        for (int n = in.readInt(); n > 0; n--) {
            Lease lease = Lease.read(in);
            leases.put(lease.seq, lease);
        }
        for (int n = in.readInt(); n > 0; n--) {
            CallRecord call = CallRecord.read(in);
            calls.put(call.origin, call);
        }
        for (int n = in.readInt(); n > 0; n--) {
            long seq = in.readLong();
            settled.put(seq, new Settled(in.readDouble(), in.readByte()));
        }
    }

    @Override
    public String toString() {
        return "StoredSet[" + CompiledLimits.describe(limits) + ", version " + version + ", " + leases.size()
                + " leases]";
    }

    // ---- parts -----------------------------------------------------------------------------------

    /** What settling a grant did, kept while a repeat of the settlement may still arrive. */
    record Settled(double time, byte outcome) {
    }

    /**
     * The resource permits of grant {@code seq}, held by {@code holder} until {@code expiry} (set time)
     * unless renewed: {@code permits[k]} of limit {@code limits[k]}.
     */
    record Lease(long seq, UUID holder, double expiry, int[] limits, double[] permits) {

        /** The lease of grant {@code seq} of {@code r}: the permits of its resource limits. */
        static Lease of(long seq, UUID holder, double expiry, ResolvedRequest r, SetAlgorithms algorithms) {
            int count = 0;
            for (int j = 0; j < r.size(); j++) {
                if (algorithms.isResource(r.limitIndex(j)) && r.amount(j) > 0) {
                    count++;
                }
            }
            int[] limits = new int[count];
            double[] permits = new double[count];
            int k = 0;
            for (int j = 0; j < r.size(); j++) {
                if (algorithms.isResource(r.limitIndex(j)) && r.amount(j) > 0) {
                    limits[k] = r.limitIndex(j);
                    permits[k] = r.amount(j);
                    k++;
                }
            }
            return new Lease(seq, holder, expiry, limits, permits);
        }

        Lease renewed(double until) {
            return new Lease(seq, holder, Math.max(expiry, until), limits, permits);
        }

        void write(ObjectDataOutput out) throws IOException {
            out.writeLong(seq);
            out.writeLong(holder.getMostSignificantBits());
            out.writeLong(holder.getLeastSignificantBits());
            out.writeDouble(expiry);
            out.writeIntArray(limits);
            out.writeDoubleArray(permits);
        }

        static Lease read(ObjectDataInput in) throws IOException {
            return new Lease(in.readLong(), new UUID(in.readLong(), in.readLong()), in.readDouble(), in.readIntArray(),
                    in.readDoubleArray());
        }
    }

    /** The last call of one origin that changed the set: what it asked and what it was answered. */
    record CallRecord(long origin, long callNo, double time, SetProcessors.Attempts attempts,
            SetProcessors.Decisions decisions) {

        void write(ObjectDataOutput out) throws IOException {
            out.writeLong(origin);
            out.writeLong(callNo);
            out.writeDouble(time);
            attempts.writeData(out);
            decisions.writeData(out);
        }

        static CallRecord read(ObjectDataInput in) throws IOException {
            long origin = in.readLong();
            long callNo = in.readLong();
            double time = in.readDouble();
            SetProcessors.Attempts attempts = new SetProcessors.Attempts();
            attempts.readData(in);
            SetProcessors.Decisions decisions = new SetProcessors.Decisions();
            decisions.readData(in);
            return new CallRecord(origin, callNo, time, attempts, decisions);
        }
    }

    /**
     * What one processor call changed, computed on the owner and applied there and on the backup alike:
     * the state words that differ (the whole state of a sliding window is 12 KB; a grant changes a few
     * words of it), leases added, renewed or removed, the caller's call record, origins forgotten, a
     * settled grant. A {@link #replacement} replaces the whole value (a set just created).
     */
    static final class Change implements DataSerializable {
        long fromVersion;
        double last;
        int[] words = new int[0];
        double[] values = new double[0];
        final List<Long> leasesRemoved = new ArrayList<>();
        final List<Lease> leasesPut = new ArrayList<>();
        final List<Long> originsDropped = new ArrayList<>();
        CallRecord call;
        long settledSeq;
        byte settledOutcome;
        int settledEvicted;
        StoredSet replacement;

        /** For Hazelcast's deserialization. */
        public Change() {
        }

        Change(StoredSet set, double now) {
            this.fromVersion = set.version;
            this.last = now;
        }

        static Change replacing(StoredSet set) {
            Change change = new Change();
            change.replacement = set;
            return change;
        }

        /** Records the words where {@code after} differs from {@code before}. */
        void diff(double[] before, double[] after) {
            int count = 0;
            for (int i = 0; i < before.length; i++) {
                if (Double.doubleToRawLongBits(before[i]) != Double.doubleToRawLongBits(after[i])) {
                    count++;
                }
            }
            words = new int[count];
            values = new double[count];
            int k = 0;
            for (int i = 0; i < before.length; i++) {
                if (Double.doubleToRawLongBits(before[i]) != Double.doubleToRawLongBits(after[i])) {
                    words[k] = i;
                    values[k] = after[i];
                    k++;
                }
            }
        }

        boolean isEmpty() {
            return replacement == null && words.length == 0 && leasesRemoved.isEmpty() && leasesPut.isEmpty()
                    && originsDropped.isEmpty() && call == null && settledSeq == 0;
        }

        boolean puts(long seq) {
            for (Lease lease : leasesPut) {
                if (lease.seq == seq) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeBoolean(replacement != null);
            if (replacement != null) {
                replacement.writeData(out);
                return;
            }
            out.writeLong(fromVersion);
            out.writeDouble(last);
            out.writeIntArray(words);
            out.writeDoubleArray(values);
            writeLongs(out, leasesRemoved);
            out.writeInt(leasesPut.size());
            for (Lease lease : leasesPut) {
                lease.write(out);
            }
            writeLongs(out, originsDropped);
            out.writeBoolean(call != null);
            if (call != null) {
                call.write(out);
            }
            out.writeLong(settledSeq);
            out.writeByte(settledOutcome);
            out.writeInt(settledEvicted);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            if (in.readBoolean()) {
                replacement = new StoredSet();
                replacement.readData(in);
                return;
            }
            fromVersion = in.readLong();
            last = in.readDouble();
            words = in.readIntArray();
            values = in.readDoubleArray();
            readLongs(in, leasesRemoved);
            for (int n = in.readInt(); n > 0; n--) {
                leasesPut.add(Lease.read(in));
            }
            readLongs(in, originsDropped);
            if (in.readBoolean()) {
                call = CallRecord.read(in);
            }
            settledSeq = in.readLong();
            settledOutcome = in.readByte();
            settledEvicted = in.readInt();
        }

        private static void writeLongs(ObjectDataOutput out, List<Long> values) throws IOException {
            out.writeInt(values.size());
            for (long value : values) {
                out.writeLong(value);
            }
        }

        private static void readLongs(ObjectDataInput in, List<Long> values) throws IOException {
            for (int n = in.readInt(); n > 0; n--) {
                values.add(in.readLong());
            }
        }
    }
}
