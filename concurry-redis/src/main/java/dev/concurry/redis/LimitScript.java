package dev.concurry.redis;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.limit.spi.Feedback;
import dev.concurry.limit.spi.ResolvedRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;

/**
 * The Lua script ({@code limitset.lua}) of one set and its wire protocol: every call's arguments are
 * encoded here and every reply is decoded here into records, so that no other class reads the
 * script's replies by position.
 */
final class LimitScript {
    static final String SOURCE = load();
    static final String SHA = sha1(SOURCE);

    private final String[] keys;
    private final String signature;
    private final String leaseNanos;
    private final String channel;
    private final List<Limit> limits;

    /**
     * The script of one set.
     *
     * @param tag     the set's key, hash tag included ({@code concurry:{name}})
     * @param limits  the set's limits
     * @param lease   how long a resource permit outlives its holder's last renewal
     */
    LimitScript(String tag, List<Limit> limits, Duration lease) {
        this.keys = new String[] {tag, tag + ":leases"};
        this.channel = tag + ":released";
        this.signature = signature(limits);
        this.leaseNanos = Long.toString(lease.toNanos());
        this.limits = List.copyOf(limits);
    }

    /** The keys every call passes (the set's hash and its lease set, one hash slot). */
    String[] keys() {
        return keys;
    }

    /** The channel the script publishes on when units come back. */
    String channel() {
        return channel;
    }

    // ---- calls -----------------------------------------------------------------------------------

    /** Creates the set, or checks that the one stored has the same limits (reply: {@code OK}). */
    String[] init(String time) {
        return args("init", time);
    }

    /** One attempt to decide: the request, its lease member ({@code ""} when it takes no permit), a try or not. */
    record Attempt(ResolvedRequest request, String member, boolean isTry) {
    }

    /** Decides {@code attempts} in order; decode the reply with {@link #decisions(List)}. */
    String[] acquire(String time, List<Attempt> attempts) {
        String[] rest = new String[1 + 3 * attempts.size()];
        rest[0] = Integer.toString(attempts.size());
        for (int i = 0; i < attempts.size(); i++) {
            Attempt a = attempts.get(i);
            rest[1 + 3 * i] = encode(a.request());
            rest[2 + 3 * i] = a.member();
            rest[3 + 3 * i] = a.isTry() ? "1" : "0";
        }
        return args("acquire", time, rest);
    }

    /**
     * Settles grant {@code seq} of {@code r}: rate limits to {@code used} (NaN: as requested) and the
     * permits of lease {@code member} ({@code ""}: none); reply decoded by {@link #settled(Long)}.
     * Returns null when there is nothing to do (no usage differs and no permit is held).
     */
    String[] settle(String time, ResolvedRequest r, long seq, double[] used, String member) {
        StringBuilder rates = new StringBuilder();
        if (used != null) {
            for (int j = 0; j < r.size(); j++) {
                int index = r.limitIndex(j);
                double amount = r.amount(j);
                if (!(limits.get(index) instanceof ResourceLimit) && !Double.isNaN(used[j]) && used[j] != amount) {
                    rates.append(index).append('=').append(amount).append(':').append(used[j]).append(';');
                }
            }
        }
        if (rates.isEmpty() && member.isEmpty()) {
            return null;
        }
        return args("settle", time, Long.toString(seq), rates.toString(), member);
    }

    /** Renews {@code members}' leases; reply decoded by {@link #renewed(List)}. */
    String[] renew(String time, Collection<String> members) {
        return args("renew", time, members.toArray(String[]::new));
    }

    /**
     * Records what a provider reported ({@code SetAlgorithms.observe}); reply {@code OK}. Limits with
     * nothing reported are left out.
     */
    String[] observe(String time, Feedback feedback) {
        StringBuilder entries = new StringBuilder();
        long touched = feedback.touches();
        for (int i = 0; i < feedback.size(); i++) {
            if ((touched & (1L << i)) != 0) {
                entries.append(i).append('=').append(value(feedback.remaining(i))).append(',')
                        .append(value(feedback.resetNanos(i))).append(',').append(value(feedback.pauseNanos(i)))
                        .append(',').append(value(feedback.scale(i))).append(';');
            }
        }
        return args("observe", time, entries.toString(), Long.toString(feedback.source()));
    }

    /** A number as Lua reads it back exactly ({@link Double#toString}), {@code x} for NaN (not reported). */
    private static String value(double d) {
        return Double.isNaN(d) ? "x" : Double.toString(d);
    }

    /** Reads every limit's available and in-use units; reply decoded by {@link #usage(List)}. */
    String[] stats(String time) {
        return args("stats", time);
    }

    private String[] args(String op, String time, String... rest) {
        String[] all = new String[5 + rest.length];
        all[0] = op;
        all[1] = time;
        all[2] = signature;
        all[3] = leaseNanos;
        all[4] = channel;
        System.arraycopy(rest, 0, all, 5, rest.length);
        return all;
    }

    /** {@code "<limit index>=<amount>;..."}; amounts as {@link Double#toString}, exact for Lua. */
    static String encode(ResolvedRequest r) {
        StringBuilder text = new StringBuilder();
        for (int j = 0; j < r.size(); j++) {
            text.append(r.limitIndex(j)).append('=').append(r.amount(j)).append(';');
        }
        return text.toString();
    }

    // ---- replies ---------------------------------------------------------------------------------

    /** What the script decided for one attempt. */
    sealed interface Decision {
    }

    /** Granted: every unit taken; {@code seq} identifies the grant when it is settled. */
    record Granted(long seq) implements Decision {
    }

    /**
     * Not granted: short of the limits in {@code shortOf} (bit i for limit i), grantable in {@code waitNanos}
     * ns if nothing changes ({@code +Infinity}: only a release frees it; NaN: queued behind an earlier
     * waiter, who holds up those limits).
     */
    record Refused(long shortOf, double waitNanos) implements Decision {
    }

    /**
     * The reply to {@link #acquire}: the script's time, the time until the earliest lease expires
     * (NaN when no attempt is short of a permit or no lease is held), the units available afterwards
     * per limit (NaN for the limits the batch did not touch), and one decision per attempt.
     */
    record Decisions(double now, double untilLeaseExpiry, double[] available, List<Decision> decisions) {
    }

    Decisions decisions(List<Object> reply) {
        double now = parse(reply.get(0));
        String lease = (String) reply.get(1);
        double untilLease = lease.isEmpty() ? Double.NaN : parse(lease);
        double[] available = new double[limits.size()];
        java.util.Arrays.fill(available, Double.NaN);
        String units = (String) reply.get(2);
        if (!units.isEmpty()) {
            for (String entry : units.split(";")) {
                int eq = entry.indexOf('=');
                available[Integer.parseInt(entry.substring(0, eq))] = Double.parseDouble(entry.substring(eq + 1));
            }
        }
        int count = (reply.size() - 3) / 3;
        List<Decision> decisions = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long status = asLong(reply.get(3 + 3 * i));
            Object a = reply.get(4 + 3 * i);
            Object b = reply.get(5 + 3 * i);
            decisions.add(switch ((int) status) {
                case 1 -> new Granted(asLong(a));
                case 0 -> new Refused(indexes((String) b), parse(a));
                case 2 -> new Refused(indexes((String) b), Double.NaN);
                default -> throw new IllegalStateException("the limit script answered status " + status
                        + " for attempt " + i + "; expected 0, 1 or 2: " + reply);
            });
        }
        return new Decisions(now, untilLease, available, decisions);
    }

    /** The reply to {@link #settle}: whether the lease was released (false: it had already expired). */
    enum Settled { RELEASED, LEASE_EXPIRED, NO_LEASE }

    static Settled settled(Long reply) {
        return switch (reply.intValue()) {
            case 1 -> Settled.RELEASED;
            case 0 -> Settled.LEASE_EXPIRED;
            case 2 -> Settled.NO_LEASE;
            default -> throw new IllegalStateException("the limit script answered " + reply + " to settle");
        };
    }

    /** The reply to {@link #renew}: per member, whether its lease was still held (and is renewed). */
    static List<Boolean> renewed(List<Object> reply) {
        List<Boolean> renewed = new ArrayList<>(reply.size());
        reply.forEach(value -> renewed.add(asLong(value) == 1));
        return renewed;
    }

    /** The reply to {@link #stats}: per limit, in the set's order, available and in-use units. */
    record Usage(double[] available, double[] inUse) {
    }

    static Usage usage(List<Object> reply) {
        int n = reply.size() / 2;
        double[] available = new double[n];
        double[] inUse = new double[n];
        for (int i = 0; i < n; i++) {
            available[i] = parse(reply.get(2 * i));
            inUse[i] = parse(reply.get(2 * i + 1));
        }
        return new Usage(available, inUse);
    }

    private static long indexes(String list) {
        long mask = 0;
        if (!list.isEmpty()) {
            for (String index : list.split(",")) {
                mask |= 1L << Integer.parseInt(index);
            }
        }
        return mask;
    }

    private static double parse(Object value) {
        return Double.parseDouble(String.valueOf(value));
    }

    private static long asLong(Object value) {
        return value instanceof Long l ? l : Long.parseLong(String.valueOf(value));
    }

    // ---- the script and the signature ------------------------------------------------------------

    /**
     * The limits as the script reads them, also stored with the set to refuse a JVM that declares the
     * same name with other limits: {@code concurry2#<sha1 of the keys>|<kind>:<capacity>:<window ns>|...}.
     * Capacities use {@link Double#toString}, which Lua parses back to the same double. The number is the
     * version of the stored state's layout (2: sliding windows in a ring of 512 entries compacted by grid
     * cells, fixed windows that remember their first grant), so that a set stored by another version is
     * refused rather than misread.
     */
    static String signature(List<Limit> limits) {
        StringBuilder keys = new StringBuilder();
        StringBuilder specs = new StringBuilder();
        for (Limit limit : limits) {
            keys.append(limit.key()).append('\0');
            switch (limit) {
                case RateLimit rate -> specs.append('|').append(kind(rate.algorithm())).append(':')
                        .append(rate.capacity()).append(':').append(rate.window().toNanos());
                case CallLimit call -> specs.append('|').append(kind(call.algorithm())).append(':')
                        .append(call.capacity()).append(':').append(call.window().toNanos());
                case ResourceLimit resource -> specs.append("|R:").append(resource.capacity()).append(":0");
            }
        }
        return "concurry2#" + sha1(keys.toString()).substring(0, 12) + specs;
    }

    private static char kind(RateAlgorithm algorithm) {
        return switch (algorithm) {
            case TOKEN_BUCKET -> 'T';
            case LEAKY_BUCKET -> 'L';
            case SLIDING_WINDOW -> 'S';
            case FIXED_WINDOW -> 'F';
            case GCRA -> 'G';
        };
    }

    private static String load() {
        try (InputStream in = LimitScript.class.getResourceAsStream("limitset.lua")) {
            if (in == null) {
                throw new IllegalStateException("limitset.lua is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String sha1(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
