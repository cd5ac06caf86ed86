package dev.concurry.redis;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.ResourceLimit;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/** The Lua script ({@code limitset.lua}) and how a set's limits are described to it. */
final class LimitScript {
    static final String SOURCE = load();
    static final String SHA = sha1(SOURCE);

    private LimitScript() {
    }

    /**
     * The limits as the script reads them, also stored with the set to refuse a JVM that declares the
     * same name with other limits: {@code concurry2#<sha1 of the keys>|<kind>:<capacity>:<window ns>|...}.
     * Capacities use {@link Double#toString}, which Lua parses back to the same double. The number is the
     * version of the stored state's layout (2: sliding windows in a ring of 512 entries, compacted by
     * grid cells), so that a set stored by another version is refused rather than misread.
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
