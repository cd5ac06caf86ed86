package dev.concurry.limit.http;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The part of RFC 8941 structured fields the IETF rate-limit fields use, read leniently: a list of
 * members separated by commas, each a bare item (a quoted string, a token or a number) followed by
 * {@code ;key=value} parameters. Writing quotes strings and keeps integers plain.
 */
final class StructuredFields {
    private StructuredFields() {
    }

    /** One member of a list: its bare item (unquoted) and its parameters (values unquoted). */
    record Item(String value, Map<String, String> params) {
    }

    /** The members of {@code field}; malformed pieces are read as well as they can be, never thrown. */
    static List<Item> list(String field) {
        List<Item> items = new ArrayList<>();
        for (String member : split(field, ',')) {
            if (member.isBlank()) {
                continue;
            }
            List<String> parts = split(member, ';');
            String value = unquote(parts.getFirst().trim());
            Map<String, String> params = new LinkedHashMap<>();
            for (int i = 1; i < parts.size(); i++) {
                String p = parts.get(i).trim();
                int eq = p.indexOf('=');
                if (eq < 0) {
                    params.put(p, "?1");
                } else {
                    params.put(p.substring(0, eq).trim(), unquote(p.substring(eq + 1).trim()));
                }
            }
            items.add(new Item(value, Collections.unmodifiableMap(params)));
        }
        return items;
    }

    /** {@code text} as an sf-string: quoted, with {@code "} and {@code \} escaped. */
    static String string(String text) {
        return '"' + text.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    /** Splits on {@code separator} outside quoted strings. */
    private static List<String> split(String text, char separator) {
        List<String> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted && c == '\\' && i + 1 < text.length()) {
                current.append(c).append(text.charAt(++i));
                continue;
            }
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == separator && !quoted) {
                parts.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        parts.add(current.toString());
        return parts;
    }

    private static String unquote(String text) {
        if (text.length() < 2 || text.charAt(0) != '"' || text.charAt(text.length() - 1) != '"') {
            return text;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 1; i < text.length() - 1; i++) {
            char c = text.charAt(i);
            if (c == '\\' && i + 1 < text.length() - 1) {
                c = text.charAt(++i);
            }
            out.append(c);
        }
        return out.toString();
    }
}
