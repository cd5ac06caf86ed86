package dev.concurry.hazelcast;

import java.util.Arrays;
import java.util.Map;

/** Comparing stored sets in tests: the owner's and the backup's copies must be the same, bit for bit. */
final class StoredSets {
    private StoredSets() {
    }

    /** Same state, word for word (bits of every double), same leases, call records and settled grants. */
    static boolean sameState(StoredSet a, StoredSet b) {
        if (a.version != b.version || a.epoch != b.epoch || Double.compare(a.last, b.last) != 0
                || !a.limits.equals(b.limits) || a.state.length != b.state.length) {
            return false;
        }
        for (int i = 0; i < a.state.length; i++) {
            if (Double.doubleToRawLongBits(a.state[i]) != Double.doubleToRawLongBits(b.state[i])) {
                return false;
            }
        }
        if (!a.leases.keySet().equals(b.leases.keySet()) || !a.calls.keySet().equals(b.calls.keySet())
                || !a.settled.equals(b.settled)) {
            return false;
        }
        for (Map.Entry<Long, StoredSet.Lease> lease : a.leases.entrySet()) {
            StoredSet.Lease other = b.leases.get(lease.getKey());
            if (!lease.getValue().holder().equals(other.holder()) || lease.getValue().expiry() != other.expiry()
                    || !Arrays.equals(lease.getValue().permits(), other.permits())) {
                return false;
            }
        }
        for (Map.Entry<Long, StoredSet.CallRecord> call : a.calls.entrySet()) {
            StoredSet.CallRecord other = b.calls.get(call.getKey());
            if (call.getValue().callNo() != other.callNo()
                    || !Arrays.equals(call.getValue().decisions().values, other.decisions().values)) {
                return false;
            }
        }
        return true;
    }
}
