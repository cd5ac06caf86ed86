package dev.concurry.limit.http;

import dev.concurry.limit.ProviderReport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads what a provider says about its limits in response headers (SPEC F1) into a
 * {@link ProviderReport} for {@link dev.concurry.limit.LimitSet#observe} or
 * {@link dev.concurry.limit.Acquisition#observe}. One dialect per provider family:
 *
 * <table>
 *   <caption>Dialects and the names they report</caption>
 *   <tr><th>dialect</th><th>headers</th><th>provider names</th></tr>
 *   <tr><td>{@link #openAi()}</td><td>{@code x-ratelimit-limit|remaining|reset-<name>}, resets as
 *       durations ({@code 1s}, {@code 6m0s}, {@code 1.5s}, {@code 20ms})</td>
 *       <td>{@code requests}, {@code tokens}</td></tr>
 *   <tr><td>{@link #anthropic()}</td><td>{@code anthropic-ratelimit-<name>-limit|remaining|reset},
 *       resets as RFC 3339 instants</td>
 *       <td>{@code requests}, {@code tokens}, {@code input-tokens}, {@code output-tokens}</td></tr>
 *   <tr><td>{@link #ietf()}</td><td>{@code RateLimit-Policy: "name";q=100;w=60} and
 *       {@code RateLimit: "name";r=50;t=30} (structured fields), or the older {@code RateLimit-Limit},
 *       {@code -Remaining}, {@code -Reset} and {@code RateLimit: limit=100, remaining=50, reset=30}</td>
 *       <td>the policies' names; {@code default} for the older unnamed forms</td></tr>
 *   <tr><td>{@link #github()}</td><td>{@code x-ratelimit-limit|remaining|reset|used}, reset in epoch
 *       seconds</td><td>{@code requests}</td></tr>
 *   <tr><td>{@link #retryAfter()}</td><td>{@code Retry-After} alone</td><td>none</td></tr>
 * </table>
 * Every dialect also reads {@code Retry-After} (seconds or an HTTP date), or {@code retry-after-ms}
 * (milliseconds, as OpenAI and Azure send it) when present. A provider name is the set's
 * key of the same name unless {@link #mapKey mapped} to another.
 *
 * <pre>{@code
 * HttpResponse<String> r = http.send(request, BodyHandlers.ofString());
 * acq.observe(ProviderHeaders.openAi(r.statusCode(), r.headers().map()));     // names = the set's keys
 *
 * static final ProviderHeaders API = ProviderHeaders.ietf().mapKey("default", "requests");
 * acq.observe(API.read(r.statusCode(), r.headers().map()));
 * }</pre>
 *
 * <p>Headers come as any map from names to a value or a collection of values
 * ({@code Map<String, List<String>>} as {@code java.net.http.HttpHeaders.map()} gives, or
 * {@code Map<String, String>}); names are case-insensitive. Times: durations count from the
 * response's arrival; an absolute time is taken relative to the response's own {@code Date} header
 * when there is one (so the two clocks need not agree), else to this host's clock. Durations beyond
 * {@link #LONGEST} are taken as {@code LONGEST}.
 *
 * <p>Bad or missing headers never throw: a value that cannot be read (not a number, negative, not a
 * date) is ignored with one debug log line and counted in {@link ProviderReport#unparsed()}.
 *
 * <p>Immutable and thread-safe; the configuring methods return new instances.
 */
public final class ProviderHeaders {
    private static final Logger log = LoggerFactory.getLogger(ProviderHeaders.class);
    /** The longest pause or reset taken from a header (a week); longer ones are cut to it. */
    public static final Duration LONGEST = Duration.ofDays(7);
    /** The name the older, unnamed IETF fields report under. */
    public static final String DEFAULT_POLICY = "default";

    private enum Dialect {
        OPENAI, ANTHROPIC, IETF, GITHUB, RETRY_AFTER
    }

    private static final Pattern OPENAI = Pattern.compile("x-ratelimit-(limit|remaining|reset)-(.+)");
    private static final Pattern ANTHROPIC = Pattern.compile("anthropic-ratelimit-(.+)-(limit|remaining|reset)");
    private static final Pattern NUMBER = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");
    private static final Pattern GO_DURATION = Pattern.compile("((?:\\d+\\.?\\d*|\\.\\d+))(ns|us|µs|μs|ms|s|m|h)");

    private final Dialect dialect;
    private final Map<String, String> keys;
    private final List<String> pauseKeys;
    private final Clock clock;

    private ProviderHeaders(Dialect dialect, Map<String, String> keys, List<String> pauseKeys, Clock clock) {
        this.dialect = dialect;
        this.keys = keys;
        this.pauseKeys = pauseKeys;
        this.clock = clock;
    }

    private static ProviderHeaders of(Dialect dialect) {
        return new ProviderHeaders(dialect, Map.of(), List.of(), Clock.systemUTC());
    }

    /** OpenAI's {@code x-ratelimit-*-requests|tokens} headers (resets as durations such as {@code 6m0s}). */
    public static ProviderHeaders openAi() {
        return of(Dialect.OPENAI);
    }

    /** {@code openAi().read(headers)}. */
    public static ProviderReport openAi(Map<String, ?> headers) {
        return openAi().read(headers);
    }

    /** {@code openAi().read(status, headers)}. */
    public static ProviderReport openAi(int status, Map<String, ?> headers) {
        return openAi().read(status, headers);
    }

    /** Anthropic's {@code anthropic-ratelimit-*} headers (resets as RFC 3339 instants). */
    public static ProviderHeaders anthropic() {
        return of(Dialect.ANTHROPIC);
    }

    /** {@code anthropic().read(headers)}. */
    public static ProviderReport anthropic(Map<String, ?> headers) {
        return anthropic().read(headers);
    }

    /** {@code anthropic().read(status, headers)}. */
    public static ProviderReport anthropic(int status, Map<String, ?> headers) {
        return anthropic().read(status, headers);
    }

    /** The IETF {@code RateLimit} / {@code RateLimit-Policy} fields, and their older forms. */
    public static ProviderHeaders ietf() {
        return of(Dialect.IETF);
    }

    /** {@code ietf().read(headers)}. */
    public static ProviderReport ietf(Map<String, ?> headers) {
        return ietf().read(headers);
    }

    /** {@code ietf().read(status, headers)}. */
    public static ProviderReport ietf(int status, Map<String, ?> headers) {
        return ietf().read(status, headers);
    }

    /** GitHub-style {@code x-ratelimit-limit|remaining|reset|used} (one quota, named {@code requests}). */
    public static ProviderHeaders github() {
        return of(Dialect.GITHUB);
    }

    /** {@code github().read(headers)}. */
    public static ProviderReport github(Map<String, ?> headers) {
        return github().read(headers);
    }

    /** {@code github().read(status, headers)}. */
    public static ProviderReport github(int status, Map<String, ?> headers) {
        return github().read(status, headers);
    }

    /** {@code Retry-After} alone: a pause of every rate limit of the set (or of {@link #pauseKeys}). */
    public static ProviderHeaders retryAfter() {
        return of(Dialect.RETRY_AFTER);
    }

    /** {@code retryAfter().read(headers)}. */
    public static ProviderReport retryAfter(Map<String, ?> headers) {
        return retryAfter().read(headers);
    }

    /** {@code retryAfter().read(status, headers)}. */
    public static ProviderReport retryAfter(int status, Map<String, ?> headers) {
        return retryAfter().read(status, headers);
    }

    /**
     * Reports the provider's {@code providerName} under the set's key {@code setKey}.
     *
     * <pre>{@code
     * ProviderHeaders.openAi().mapKey("tokens", "tpm").mapKey("requests", "rpm")
     * }</pre>
     */
    public ProviderHeaders mapKey(String providerName, String setKey) {
        Objects.requireNonNull(providerName, "providerName");
        Objects.requireNonNull(setKey, "setKey");
        if (setKey.isBlank()) {
            throw new IllegalArgumentException("setKey must not be blank");
        }
        Map<String, String> next = new LinkedHashMap<>(keys);
        next.put(providerName, setKey);
        return new ProviderHeaders(dialect, Map.copyOf(next), pauseKeys, clock);
    }

    /**
     * The set's keys that a {@code Retry-After} pauses; by default the keys the response names, or every
     * rate limit of the set when it names none.
     */
    public ProviderHeaders pauseKeys(String... setKeys) {
        return new ProviderHeaders(dialect, keys, List.of(setKeys), clock);
    }

    /** The wall clock absolute times are compared with when a response has no {@code Date} header. */
    public ProviderHeaders clock(Clock clock) {
        return new ProviderHeaders(dialect, keys, pauseKeys, Objects.requireNonNull(clock, "clock"));
    }

    /**
     * Reads a response's headers when its status is unknown: a {@code Retry-After} then means the call
     * was refused. Never throws for bad values.
     */
    public ProviderReport read(Map<String, ?> headers) {
        return read(0, headers);
    }

    /**
     * Reads the headers of a response with HTTP status {@code status}: 429 and 503 are refusals (their
     * reservation is not counted, a {@code Retry-After} pauses). Never throws for bad values.
     */
    public ProviderReport read(int status, Map<String, ?> headers) {
        Reading reading = new Reading(normalise(Objects.requireNonNull(headers, "headers")));
        switch (dialect) {
            case OPENAI -> reading.openAi();
            case ANTHROPIC -> reading.anthropic();
            case IETF -> reading.ietf();
            case GITHUB -> reading.github();
            case RETRY_AFTER -> {
            }
        }
        Optional<Duration> retryAfter = reading.retryAfter();
        boolean refused = status == 429 || status == 503 || status == 0 && retryAfter.isPresent();
        ProviderReport.Builder report = ProviderReport.builder();
        reading.quotas.forEach((name, quota) -> {
            String key = keys.getOrDefault(name, name);
            if (key.isBlank()) {
                reading.ignore("quota name", name);      // no key can be blank
            } else {
                report.quota(key, quota.toQuota());
            }
        });
        if (!pauseKeys.isEmpty()) {
            report.pauseKeys(pauseKeys.toArray(String[]::new));
        }
        retryAfter.filter(d -> refused).ifPresent(report::retryAfter);
        return report.refused(refused).unparsed(reading.unparsed).build();
    }

    @Override
    public String toString() {
        return "ProviderHeaders[" + dialect.name().toLowerCase(Locale.ROOT) + (keys.isEmpty() ? "" : ", keys=" + keys)
                + "]";
    }

    // ---- reading ---------------------------------------------------------------------------------

    /** Header names case-insensitively, each with its values in order. */
    private static Map<String, List<String>> normalise(Map<String, ?> headers) {
        Map<String, List<String>> all = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        headers.forEach((name, value) -> {
            if (name == null || value == null) {
                return;     // HttpURLConnection lists the status line under a null name
            }
            List<String> values = all.computeIfAbsent(name.trim(), n -> new ArrayList<>());
            if (value instanceof Collection<?> many) {
                many.forEach(v -> values.add(String.valueOf(v)));
            } else if (value instanceof String[] array) {
                values.addAll(List.of(array));
            } else {
                values.add(value.toString());
            }
        });
        return all;
    }

    /** One quota being read, part by part. */
    private static final class Parts {
        Double limit;
        Double remaining;
        Double used;
        Duration resetIn;
        Duration window;

        ProviderReport.Quota toQuota() {
            Double left = remaining;
            if (left == null && limit != null && used != null) {
                left = Math.max(0, limit - used);
            }
            return new ProviderReport.Quota(limit == null ? OptionalDouble.empty() : OptionalDouble.of(limit),
                    left == null ? OptionalDouble.empty() : OptionalDouble.of(left), Optional.ofNullable(resetIn),
                    Optional.ofNullable(window));
        }
    }

    /** One response being read: its headers, the quotas found, the values that could not be read. */
    private final class Reading {
        final Map<String, List<String>> headers;
        final Map<String, Parts> quotas = new LinkedHashMap<>();
        int unparsed;
        private Optional<Instant> date;

        Reading(Map<String, List<String>> headers) {
            this.headers = headers;
        }

        Parts quota(String name) {
            return quotas.computeIfAbsent(name, n -> new Parts());
        }

        void openAi() {
            headers.forEach((name, values) -> {
                Matcher m = OPENAI.matcher(name.toLowerCase(Locale.ROOT));
                if (!m.matches()) {
                    return;
                }
                String value = first(values);
                Parts q = quota(m.group(2));
                switch (m.group(1)) {
                    case "limit" -> q.limit = number(name, value);
                    case "remaining" -> q.remaining = number(name, value);
                    default -> q.resetIn = goDuration(name, value);
                }
            });
        }

        void anthropic() {
            headers.forEach((name, values) -> {
                Matcher m = ANTHROPIC.matcher(name.toLowerCase(Locale.ROOT));
                if (!m.matches()) {
                    return;
                }
                String value = first(values);
                Parts q = quota(m.group(1));
                switch (m.group(2)) {
                    case "limit" -> q.limit = number(name, value);
                    case "remaining" -> q.remaining = number(name, value);
                    default -> q.resetIn = instantOrSeconds(name, value);
                }
            });
        }

        void github() {
            Parts q = null;
            for (String part : List.of("limit", "remaining", "used", "reset")) {
                String name = "x-ratelimit-" + part;
                List<String> values = headers.get(name);
                if (values == null) {
                    continue;
                }
                if (q == null) {
                    q = quota("requests");
                }
                String value = first(values);
                switch (part) {
                    case "limit" -> q.limit = number(name, value);
                    case "remaining" -> q.remaining = number(name, value);
                    case "used" -> q.used = number(name, value);
                    default -> {
                        Double epochSeconds = number(name, value);
                        if (epochSeconds != null) {
                            q.resetIn = until(Instant.ofEpochMilli((long) Math.min(epochSeconds * 1000, 1e17)));
                        }
                    }
                }
            }
        }

        void ietf() {
            for (String value : all("RateLimit-Policy")) {
                for (StructuredFields.Item item : StructuredFields.list(value)) {
                    policy(item, value);
                }
            }
            for (String value : all("RateLimit")) {
                for (StructuredFields.Item item : StructuredFields.list(value)) {
                    remaining(item, value);
                }
            }
            String limit = firstOf("RateLimit-Limit");
            if (limit != null) {
                // "100" or, in some drafts, "100, 100;w=60": the first member is the current quota.
                List<StructuredFields.Item> items = StructuredFields.list(limit);
                quota(DEFAULT_POLICY).limit = items.isEmpty()
                        ? number("RateLimit-Limit", limit)
                        : number("RateLimit-Limit", items.getFirst().value());
            }
            String left = firstOf("RateLimit-Remaining");
            if (left != null) {
                quota(DEFAULT_POLICY).remaining = number("RateLimit-Remaining", left);
            }
            String reset = firstOf("RateLimit-Reset");
            if (reset != null) {
                quota(DEFAULT_POLICY).resetIn = seconds("RateLimit-Reset", reset);
            }
        }

        /** {@code "name";q=100;w=60} (or the older {@code 100;w=60}). */
        private void policy(StructuredFields.Item item, String field) {
            String quotaParam = item.params().get("q");
            Parts q;
            if (quotaParam != null) {
                q = quota(item.value());
                q.limit = number("RateLimit-Policy", quotaParam);
            } else if (looksNumeric(item.value())) {
                q = quota(DEFAULT_POLICY);
                q.limit = number("RateLimit-Policy", item.value());
            } else {
                ignore("RateLimit-Policy", field);
                return;
            }
            String w = item.params().get("w");
            if (w != null) {
                q.window = seconds("RateLimit-Policy", w);
            }
        }

        /** {@code "name";r=50;t=30}, or a member of the older {@code limit=100, remaining=50, reset=30}. */
        private void remaining(StructuredFields.Item item, String field) {
            String member = item.value();
            int eq = member.indexOf('=');
            if (eq > 0 && item.params().isEmpty()) {
                Parts q = quota(DEFAULT_POLICY);
                String key = member.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                String value = member.substring(eq + 1).trim();
                switch (key) {
                    case "limit" -> q.limit = number("RateLimit", value);
                    case "remaining" -> q.remaining = number("RateLimit", value);
                    case "reset" -> q.resetIn = seconds("RateLimit", value);
                    default -> {
                    }
                }
                return;
            }
            String r = item.params().get("r");
            String t = item.params().get("t");
            if (r == null && t == null) {
                ignore("RateLimit", field);
                return;
            }
            Parts q = quota(member);
            if (r != null) {
                q.remaining = number("RateLimit", r);
            }
            if (t != null) {
                q.resetIn = seconds("RateLimit", t);
            }
        }

        Optional<Duration> retryAfter() {
            String millis = firstOf("retry-after-ms");
            if (millis != null) {
                Double ms = number("retry-after-ms", millis);
                if (ms != null) {
                    return Optional.of(cap(ms * 1e6));
                }
            }
            String value = firstOf("Retry-After");
            if (value == null) {
                return Optional.empty();
            }
            if (looksNumeric(value)) {
                return Optional.ofNullable(seconds("Retry-After", value));
            }
            Instant at = httpDate(value);
            if (at == null) {
                ignore("Retry-After", value);
                return Optional.empty();
            }
            return Optional.of(until(at));
        }

        // ---- values ------------------------------------------------------------------------------

        private List<String> all(String name) {
            return headers.getOrDefault(name, List.of());
        }

        private String firstOf(String name) {
            List<String> values = headers.get(name);
            return values == null || values.isEmpty() ? null : values.getFirst();
        }

        /** A finite number ≥ 0, or null (counted as unparsed). */
        private Double number(String name, String value) {
            try {
                double d = Double.parseDouble(value.trim());
                if (d >= 0 && d < Double.POSITIVE_INFINITY) {
                    return d;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            ignore(name, value);
            return null;
        }

        /** Seconds ≥ 0 as a duration, or null. */
        private Duration seconds(String name, String value) {
            Double s = number(name, value);
            return s == null ? null : cap(s * 1e9);
        }

        /** A Go-style duration ({@code 1s}, {@code 6m0s}, {@code 1.5s}, {@code 20ms}), or seconds. */
        private Duration goDuration(String name, String value) {
            String text = value.trim();
            if (looksNumeric(text)) {
                return seconds(name, text);
            }
            Matcher m = GO_DURATION.matcher(text);
            double nanos = 0;
            int at = 0;
            while (at < text.length() && m.find(at) && m.start() == at) {
                double n = Double.parseDouble(m.group(1));
                nanos += n * switch (m.group(2)) {
                    case "ns" -> 1;
                    case "us", "µs", "μs" -> 1e3;
                    case "ms" -> 1e6;
                    case "s" -> 1e9;
                    case "m" -> 60e9;
                    default -> 3600e9;
                };
                at = m.end();
            }
            if (at == 0 || at != text.length()) {
                ignore(name, value);
                return null;
            }
            return cap(nanos);
        }

        /** An RFC 3339 instant (Anthropic), or lenient: seconds from now. */
        private Duration instantOrSeconds(String name, String value) {
            String text = value.trim();
            if (looksNumeric(text)) {
                return seconds(name, text);
            }
            try {
                return until(OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant());
            } catch (DateTimeParseException e) {
                ignore(name, value);
                return null;
            }
        }

        /** From the response's time (its Date header, else now) until {@code at}; zero if passed. */
        private Duration until(Instant at) {
            Instant base = responseTime();
            Duration d = Duration.between(base, at);
            return d.isNegative() ? Duration.ZERO : d.compareTo(LONGEST) > 0 ? LONGEST : d;
        }

        private Instant responseTime() {
            if (date == null) {
                String value = firstOf("Date");
                Instant parsed = value == null ? null : httpDate(value);
                if (value != null && parsed == null) {
                    ignore("Date", value);
                }
                date = Optional.ofNullable(parsed);
            }
            return date.orElseGet(clock::instant);
        }

        private Duration cap(double nanos) {
            return nanos >= LONGEST.toNanos() ? LONGEST : Duration.ofNanos(Math.round(nanos));
        }

        private void ignore(String name, String value) {
            unparsed++;
            log.debug("ignoring the provider header {}: '{}' ({} dialect): not a value it can read", name, value,
                    dialect.name().toLowerCase(Locale.ROOT));
        }
    }

    private static String first(List<String> values) {
        return values.isEmpty() ? "" : values.getFirst();
    }

    /** Whether {@code text} is meant as a plain number (possibly negative or malformed), not a date or duration. */
    private static boolean looksNumeric(String text) {
        return NUMBER.matcher(text.trim()).matches();
    }

    /** An HTTP date (RFC 1123, e.g. {@code Wed, 21 Oct 2015 07:28:00 GMT}), or null. */
    private static Instant httpDate(String value) {
        try {
            return ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
