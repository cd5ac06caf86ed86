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
import java.util.Arrays;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;

/**
 * The Lua script ({@code limitset.lua}) of one set and its wire protocol: every call's arguments are
 * encoded here and every reply is decoded here into records, so that no other class reads the
 * script's replies by position.
 *
 * <p>Each set has its own script: the body of {@code limitset.lua} after two lines holding the set's
 * signature and limits as Lua constants, so that the server parses nothing per call but the call's
 * own arguments (issue 20: the script does only the decision). Sets with the same limits share one
 * script (and one SHA in the server's script cache).
 */
final class LimitScript {
    private static final String BODY = load();
    /** The version of the stored state's layout, in every signature. */
    static final int LAYOUT = 3;

    private final String[] keys;
    private final String leaseNanos;
    private final String channel;
    private final List<Limit> limits;
    private final String source;
    private final String sha;

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
        this.leaseNanos = Long.toString(lease.toNanos());
        this.limits = List.copyOf(limits);
        this.source = header(signature(limits), limits) + BODY;
        this.sha = sha1(source);
    }

    /** The keys every call passes (the set's hash and its lease set, one hash slot). */
    String[] keys() {
        return keys;
    }

    /** The channel the script publishes on when waiters elsewhere may now be granted. */
    String channel() {
        return channel;
    }

    /** This set's script. */
    String source() {
        return source;
    }

    /** The SHA-1 of {@link #source()}, for {@code EVALSHA}. */
    String sha() {
        return sha;
    }

    // ---- calls -----------------------------------------------------------------------------------

    /**
     * Who makes a call and which: {@code owner} is one client of the set (a JVM's store), {@code number}
     * numbers the calls that change state (0: an idempotent call, not recorded), and every call of the
     * owner numbered below {@code low} is settled on the client's side (the script forgets it, and
     * ignores it if it ever arrives again).
     */
    record Call(String owner, long number, long low) {
    }

    /** Creates the set, or checks that the one stored has the same limits (reply: {@code OK}). */
    String[] init(String time, Call call) {
        return args("init", time, call);
    }

    /**
     * One attempt to decide: its waiter's id ({@link dev.concurry.limit.spi.Batch#id}), the request, its
     * lease member ({@code ""} when it takes no permit), a try or not, and its place in the queue across
     * JVMs: when it queued on the script's clock ({@link #queuedAt}: ns, the time argument's clock or the
     * server's; {@link #UNKNOWN} if this JVM cannot tell yet), else how long it has waited (ns).
     */
    record Attempt(long id, ResolvedRequest request, String member, boolean isTry, long queuedAt, long waitedNanos) {
    }

    /** {@link Attempt#queuedAt} when this JVM does not know its offset to the server's clock yet. */
    static final long UNKNOWN = Long.MIN_VALUE;

    /**
     * Decides {@code attempts} in order, after dropping the tickets of this owner's waiters that left
     * ({@code left}: ids, comma-separated); decode the reply with {@link #decisions(List)}.
     */
    String[] acquire(String time, Call call, String left, List<Attempt> attempts) {
        String[] rest = new String[2 + 5 * attempts.size()];
        rest[0] = left;
        rest[1] = Integer.toString(attempts.size());
        for (int i = 0; i < attempts.size(); i++) {
            Attempt a = attempts.get(i);
            rest[2 + 5 * i] = a.isTry() ? "" : Long.toString(a.id());    // a try never takes a ticket
            rest[3 + 5 * i] = a.isTry() ? "1" : "0";
            rest[4 + 5 * i] = a.member();
            rest[5 + 5 * i] = encoded(a.request());
            rest[6 + 5 * i] = a.isTry()
                    ? "0"
                    : a.queuedAt() != UNKNOWN ? "@" + a.queuedAt() : Long.toString(a.waitedNanos());
        }
        return args("acquire", time, call, rest);
    }

    /**
     * Gives back what the acquire call numbered {@code call.number()} granted, or makes sure it never
     * runs ({@code attempts}: what that call sent); reply decoded by {@link #undone(Long)}.
     */
    String[] undo(String time, Call call, List<Attempt> attempts) {
        String[] rest = new String[1 + 3 * attempts.size()];
        rest[0] = Integer.toString(attempts.size());
        for (int i = 0; i < attempts.size(); i++) {
            Attempt a = attempts.get(i);
            rest[1 + 3 * i] = Long.toString(a.id());
            rest[2 + 3 * i] = a.member();
            rest[3 + 3 * i] = encoded(a.request());
        }
        return args("undo", time, call, rest);
    }

    /** Drops the tickets of this owner's waiters that left ({@code ids} comma-separated, {@code *}: all). */
    String[] leave(String time, Call call, String ids) {
        return args("leave", time, call, ids);
    }

    /**
     * Whether settling grant {@code seq} of {@code r} to {@code used} changes anything: a rate limit used
     * otherwise than requested, or a lease to release ({@code member} not empty).
     */
    boolean needsSettling(ResolvedRequest r, double[] used, String member) {
        return !member.isEmpty() || !rates(r, used).isEmpty();
    }

    /**
     * Settles grant {@code seq} of {@code r}: rate limits to {@code used} (NaN: as requested) and the
     * permits of lease {@code member} ({@code ""}: none); reply decoded by {@link #settled(Long)}.
     */
    String[] settle(String time, Call call, ResolvedRequest r, long seq, double[] used, String member) {
        return args("settle", time, call, Long.toString(seq), rates(r, used), member);
    }

    private String rates(ResolvedRequest r, double[] used) {
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
        return rates.toString();
    }

    /** Renews {@code members}' leases; reply decoded by {@link #renewed(List)}. */
    String[] renew(String time, Call call, Collection<String> members) {
        return args("renew", time, call, members.toArray(String[]::new));
    }

    /** Reads the script's clock (the time argument, or the server's clock in µs); reply parsed by {@link #time(String)}. */
    String[] clock(String time, Call call) {
        return args("clock", time, call);
    }

    static double time(String reply) {
        return Double.parseDouble(reply);
    }

    /**
     * Records what a provider reported ({@code SetAlgorithms.observe}); reply {@code OK}. Limits with
     * nothing reported are left out.
     */
    String[] observe(String time, Call call, Feedback feedback) {
        StringBuilder entries = new StringBuilder();
        long touched = feedback.touches();
        for (int i = 0; i < feedback.size(); i++) {
            if ((touched & (1L << i)) != 0) {
                entries.append(i).append('=').append(value(feedback.remaining(i))).append(',')
                        .append(value(feedback.resetNanos(i))).append(',').append(value(feedback.pauseNanos(i)))
                        .append(',').append(value(feedback.scale(i))).append(';');
            }
        }
        return args("observe", time, call, entries.toString(), Long.toString(feedback.source()));
    }

    /** A number as Lua reads it back exactly ({@link Double#toString}), {@code x} for NaN (not reported). */
    private static String value(double d) {
        return Double.isNaN(d) ? "x" : Double.toString(d);
    }

    /** Reads every limit's available and in-use units; reply decoded by {@link #usage(List)}. */
    String[] stats(String time, Call call) {
        return args("stats", time, call);
    }

    private String[] args(String op, String time, Call call, String... rest) {
        String[] all = new String[7 + rest.length];
        all[0] = op;
        all[1] = time;
        all[2] = call.owner();
        all[3] = Long.toString(call.number());
        all[4] = Long.toString(call.low());
        all[5] = leaseNanos;
        all[6] = channel;
        System.arraycopy(rest, 0, all, 7, rest.length);
        return all;
    }

    /** The request of the last attempt encoded: a hot set usually sends the same request again and again. */
    private volatile Encoded lastEncoded = new Encoded(null, "");

    private record Encoded(ResolvedRequest request, String text) {
    }

    private String encoded(ResolvedRequest r) {
        Encoded last = lastEncoded;
        if (last.request() == r) {
            return last.text();
        }
        String text = encode(r);
        lastEncoded = new Encoded(r, text);
        return text;
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
     * waiter, in this JVM or another, who holds up those limits; 0 with no limit: decide it again).
     */
    record Refused(long shortOf, double waitNanos) implements Decision {
    }

    /**
     * How the script took an acquire call: {@code APPLIED} now; {@code REPLAYED}, the call having been
     * seen before (a client re-sent it): the grants it made then, the others to be decided again;
     * {@code STALE}, settled by the client already: nothing applied.
     */
    enum Outcome {
        APPLIED, REPLAYED, STALE
    }

    /**
     * The reply to {@link #acquire}: how it was taken, the time until the earliest lease expires (NaN when
     * no attempt is short of a permit or no lease is held), the units available afterwards per limit
     * (NaN for the limits the batch did not touch), the script's time (the time argument, or the server's
     * clock in µs; NaN when stale), and one decision per attempt.
     */
    record Decisions(Outcome outcome, double untilLeaseExpiry, double[] available, double time,
            List<Decision> decisions) {
    }

    /** Decodes the reply to {@link #acquire} of {@code attempts} attempts. */
    Decisions decisions(List<Object> reply, int attempts) {
        double[] available = new double[limits.size()];
        Arrays.fill(available, Double.NaN);
        String status = String.valueOf(reply.get(0));
        if (status.equals("S")) {
            List<Decision> again = new ArrayList<>(attempts);
            for (int i = 0; i < attempts; i++) {
                again.add(new Refused(0, 0));
            }
            return new Decisions(Outcome.STALE, Double.NaN, available, Double.NaN, again);
        }
        String lease = (String) reply.get(1);
        double untilLease = lease.isEmpty() ? Double.NaN : parse(lease);
        String units = (String) reply.get(2);
        if (!units.isEmpty()) {
            for (String entry : units.split(";")) {
                int eq = entry.indexOf('=');
                available[Integer.parseInt(entry.substring(0, eq))] = Double.parseDouble(entry.substring(eq + 1));
            }
        }
        double time = parse(reply.get(3));
        if (reply.size() - 4 != attempts) {
            throw new IllegalStateException("the limit script answered " + (reply.size() - 4) + " decisions for "
                    + attempts + " attempts: " + reply);
        }
        List<Decision> decisions = new ArrayList<>(attempts);
        for (int i = 4; i < reply.size(); i++) {
            Object value = reply.get(i);
            if (value instanceof Long seq) {
                decisions.add(new Granted(seq));
                continue;
            }
            String text = String.valueOf(value);
            int slash = text.indexOf('/');
            if (slash < 0) {
                throw new IllegalStateException("the limit script answered '" + text + "' for attempt " + (i - 4)
                        + "; expected a sequence number, <wait>/<limits> or B/<limits>: " + reply);
            }
            String wait = text.substring(0, slash);
            decisions.add(new Refused(indexes(text.substring(slash + 1)),
                    wait.equals("B") ? Double.NaN : parse(wait)));
        }
        return new Decisions(status.equals("R") ? Outcome.REPLAYED : Outcome.APPLIED, untilLease, available, time,
                decisions);
    }

    /**
     * The reply to {@link #settle}: the lease was released; it had already expired (and was reclaimed);
     * there was none; it was lost with the server's state (a restart); or the call was stale (settled by
     * the client already: nothing applied).
     */
    enum Settled {
        RELEASED, LEASE_EXPIRED, NO_LEASE, LEASE_LOST, STALE
    }

    static Settled settled(Long reply) {
        return switch (reply.intValue()) {
            case 1 -> Settled.RELEASED;
            case 0 -> Settled.LEASE_EXPIRED;
            case 2 -> Settled.NO_LEASE;
            case 3 -> Settled.LEASE_LOST;
            case -1 -> Settled.STALE;
            default -> throw new IllegalStateException("the limit script answered " + reply + " to settle");
        };
    }

    /** The reply to {@link #undo}: whether grants were given back (false: the call had not run, and never will). */
    static boolean undone(Long reply) {
        return reply == 1;
    }

    /** What renewing one lease found: still held (renewed), gone (expired and reclaimed), or re-asserted after a restart. */
    enum Renewal {
        RENEWED, GONE, REASSERTED
    }

    /** The reply to {@link #renew}: per member, in order. */
    static List<Renewal> renewed(List<Object> reply) {
        List<Renewal> renewed = new ArrayList<>(reply.size());
        for (Object value : reply) {
            long code = asLong(value);
            renewed.add(code == 1 ? Renewal.RENEWED : code == 2 ? Renewal.REASSERTED : Renewal.GONE);
        }
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
     * same name with other limits: {@code concurry3#<sha1 of the keys>|<kind>:<capacity>:<window ns>|...}.
     * Capacities use {@link Double#toString}, which Lua parses back to the same double. The number is the
     * version of the stored state's layout ({@value #LAYOUT}: the header and every limit's state packed in
     * one field, sliding windows in a ring of 512 entries compacted by grid cells, fixed windows that
     * remember their first grant, calls recorded per client, the queue across JVMs), so that a set stored
     * by another version is refused rather than misread.
     */
    static String signature(List<Limit> limits) {
        StringBuilder keys = new StringBuilder();
        StringBuilder specs = new StringBuilder();
        for (Limit limit : limits) {
            keys.append(limit.key()).append('\0');
            specs.append('|').append(kind(limit)).append(':').append(limit.capacity()).append(':')
                    .append(windowNanos(limit));
        }
        return "concurry" + LAYOUT + "#" + sha1(keys.toString()).substring(0, 12) + specs;
    }

    /** The set's constants as Lua source, put before the script's body. */
    private static String header(String signature, List<Limit> limits) {
        StringBuilder specs = new StringBuilder();
        for (int i = 0; i < limits.size(); i++) {
            Limit limit = limits.get(i);
            specs.append(i == 0 ? "[0] = " : ", ").append("{ '").append(kind(limit)).append("', ")
                    .append(limit.capacity()).append(", ").append(windowNanos(limit)).append(" }");
        }
        return "local SIG = '" + signature + "'\nlocal SPECS = { " + specs + " }\n";
    }

    private static char kind(Limit limit) {
        RateAlgorithm algorithm = switch (limit) {
            case RateLimit rate -> rate.algorithm();
            case CallLimit call -> call.algorithm();
            case ResourceLimit ignored -> null;
        };
        if (algorithm == null) {
            return 'R';
        }
        return switch (algorithm) {
            case TOKEN_BUCKET -> 'T';
            case LEAKY_BUCKET -> 'L';
            case SLIDING_WINDOW -> 'S';
            case FIXED_WINDOW -> 'F';
            case GCRA -> 'G';
        };
    }

    private static long windowNanos(Limit limit) {
        return switch (limit) {
            case RateLimit rate -> rate.window().toNanos();
            case CallLimit call -> call.window().toNanos();
            case ResourceLimit ignored -> 0;
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
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
