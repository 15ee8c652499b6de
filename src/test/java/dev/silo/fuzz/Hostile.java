package dev.silo.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * Hostile input, drawn from a seeded {@link Random}: strings that broke parsers somewhere (NUL, lone surrogates,
 * out-of-range times, numbers beyond any type, injection text), JSON that is deep, wide, truncated or mistyped, and
 * raw bytes that are not UTF-8.
 */
final class Hostile {
    private Hostile() {}

    static final List<String> TIMES = List.of("+1000000000-12-31T23:59:59Z", "-100000-01-01T00:00:00Z", "2026-13-45T99:99:99Z",
            "-1000000000-01-01T00:00:00Z", "+294277-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00+15:59", "9999-12-31T23:59:59.999999999-15:59", "2026-01-31T24:00:00Z", "2026-01-31T23:59:60Z",
            "2026-01-31T12:00:00+18:00", "2026-01-31T12:00:00Z", "2026-01-31t12:00:00.123456789z", "1970-01-01T00:00:00Z",
            "2026-01-31", "12:00:00", "now", "infinity", "-infinity", "epoch", "allballs", "J2451187", "1e9");

    static final List<String> NUMBERS = List.of("0", "-0", "1", "-1", "1.5", "1000", "1001", "50", "2147483647", "2147483648",
            "-2147483649", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e3", "1e999999999",
            "-1e-999999999", "1e2147483648", "1e-2147483649", "NaN", "Infinity", "-Infinity", "0x10", "1_000", "+5", " 5", "5 ",
            "0.0000000000000000000001", "9".repeat(1200), "0." + "0".repeat(1100) + "1", "1E+1000", "٣", "");

    static final List<String> IDS = List.of("", "not-a-uuid", UUID.randomUUID().toString(), UUID.randomUUID().toString().toUpperCase(),
            "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
            "1-1-1-1-1", "0-0-0-0-00000000000000000000000000", "{" + UUID.randomUUID() + "}", UUID.randomUUID() + " ");

    static final List<String> FIELDS = List.of("title", "pages", "price", "published", "tags", "meta", "available", "isbn", "n", "s",
            "created_at", "id", "", "a\u0000b", "\ud800", "' OR 1=1 --", "x".repeat(300), "data", "title]", "[", "filter[x]");

    static final List<String> SORTS = List.of("created_at", "-created_at", "updated_at", "-updated_at", "title", "-title", "pages",
            "-pages", "price", "published", "-published", "available", "isbn", "meta", "tags", "--created_at", "-", "", "id",
            "created_at,title", "+title", "TITLE", "n", "s");

    static final List<String> RAW_QUERY_PARTS = List.of("filter[", "filter[]=1", "filter%5B%5D=1", "=", "cursor", "limit", "&&",
            "filter[title]", "filter[title]=%ZZ", "cursor=%E0%A4%A", "sort=%C0%AE", "filter%5Btitle%5D=%FF%FE", "limit=1&limit=2",
            "cursor=a&cursor=b", "filter%5Btitle%5D=a&filter%5Btitle%5D=b", "%00=%00", "a=%", "filter[" + "x".repeat(300) + "]=1");

    static final List<String> IF_MATCHES = List.of("\"1\"", "\"2\"", "\"3\"", "W/\"1\"", "*", "\"99999999999999999999\"", "\"-1\"",
            "1", "\"1\", \"2\"", ",,,", "\"\"", "\"", "\"1", "W/", "\"" + "9".repeat(18) + "\"", "\"0\"", " ", "\"1\",*",
            "\"１\"", "\"1\"\"2\"");

    static final List<String> HEADER_VALUES = List.of("", " ", "x".repeat(7000), "\u0001\u0002", "é", "\u00ff", "\uD83D\uDE00",
            "a\rb", "${jndi:ldap://127.0.0.1/a}", "../../etc/passwd", "%00", "1, 2, 3", "bytes=0-1,2-3", "null", "\t",
            "0123456789abcdef0123456789abcdef0123456789abcdef");

    static final List<String> CONTENT_TYPES = List.of("application/json", "application/merge-patch+json", "text/plain", "",
            "application/json; charset=utf-16", "application/json; charset=nope", "multipart/form-data; boundary=x",
            "application/merge-patch+json;;;", "*/*", "application/x-www-form-urlencoded", "APPLICATION/MERGE-PATCH+JSON");

    private static final List<String> ATOMS = List.of("", " ", "\u0000", "a\u0000b", "\t", "\r\n", "null", "true", "false",
            "' OR '1'='1", "'; DROP TABLE records; --", "\\", "\"", "%", "%00", "%ZZ", "{}", "[]", "{\"a\":", "[".repeat(200),
            "${jndi:ldap://127.0.0.1/a}", "../../../../etc/passwd", "..", ".", "/", "\uD83D\uDE00", "\u202E", "\uFEFF", "\uFFFF",
            "é", "a".repeat(5000), "\ud800", "\udc00x", "admin@example.com", "ADMIN@EXAMPLE.COM", "a@b", "@", "\u0085", "\u2028");

    /** A hostile string: an atom, a time, a number, a field name, random characters, or a mix. */
    static String text(Random random) {
        return switch (random.nextInt(7)) {
            case 0, 1 -> ATOMS.get(random.nextInt(ATOMS.size()));
            case 2 -> TIMES.get(random.nextInt(TIMES.size()));
            case 3 -> NUMBERS.get(random.nextInt(NUMBERS.size()));
            case 4 -> FIELDS.get(random.nextInt(FIELDS.size()));
            case 5 -> randomCharacters(random, random.nextInt(40));
            default -> text(random) + text(random);
        };
    }

    static String randomCharacters(Random random, int length) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < length; i++) {
            switch (random.nextInt(5)) {
                case 0 -> text.append((char) random.nextInt(0x20));
                case 1, 2 -> text.append((char) (0x20 + random.nextInt(0x5f)));
                case 3 -> text.append((char) random.nextInt(0x10000));
                default -> text.appendCodePoint(0x10000 + random.nextInt(0x100000));
            }
        }
        return text.toString();
    }

    /** The string with a character changed, removed, doubled or appended, or cut short. */
    static String mutate(Random random, String text) {
        if (text.isEmpty()) {
            return "A";
        }
        int at = random.nextInt(text.length());
        return switch (random.nextInt(5)) {
            case 0 -> text.substring(0, at) + (char) ('A' + random.nextInt(26)) + text.substring(at + 1);
            case 1 -> text.substring(0, at) + text.substring(at + 1);
            case 2 -> text.substring(0, at) + text.charAt(at) + text.substring(at);
            case 3 -> text + randomCharacters(random, 1 + random.nextInt(3));
            default -> text.substring(0, at);
        };
    }

    /** A JSON string literal, escaping what JSON requires and writing lone surrogates as \\u escapes. */
    static String jsonString(String text) {
        StringBuilder json = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\') {
                json.append('\\').append(c);
            } else if (c < 0x20 || Character.isSurrogate(c) && !validPair(text, i)) {
                json.append(String.format("\\u%04x", (int) c));
            } else {
                json.append(c);
                if (Character.isHighSurrogate(c)) {
                    json.append(text.charAt(++i));
                }
            }
        }
        return json.append('"').toString();
    }

    private static boolean validPair(String text, int i) {
        return Character.isHighSurrogate(text.charAt(i)) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1));
    }

    /** A JSON value as text, nested at most {@code depth} levels (sometimes far deeper: past the parser's limit). */
    static String value(Random random, int depth) {
        int kind = random.nextInt(depth <= 0 ? 4 : 7);
        return switch (kind) {
            case 0 -> jsonString(text(random));
            case 1 -> {
                String number = NUMBERS.get(random.nextInt(NUMBERS.size()));
                yield number.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?") ? number : jsonString(number);
            }
            case 2 -> List.of("true", "false", "null").get(random.nextInt(3));
            case 3 -> jsonString(TIMES.get(random.nextInt(TIMES.size())));
            case 4 -> object(random, depth - 1, random.nextInt(4));
            case 5 -> {
                StringBuilder array = new StringBuilder("[");
                int size = random.nextInt(4);
                for (int i = 0; i < size; i++) {
                    array.append(i == 0 ? "" : ",").append(value(random, depth - 1));
                }
                yield array.append(']').toString();
            }
            default -> random.nextInt(8) == 0 ? "[".repeat(33 + random.nextInt(100)) + "]".repeat(33) : jsonString(text(random));
        };
    }

    static String object(Random random, int depth, int size) {
        StringBuilder object = new StringBuilder("{");
        for (int i = 0; i < size; i++) {
            String name = random.nextBoolean() ? FIELDS.get(random.nextInt(FIELDS.size())) : text(random);
            object.append(i == 0 ? "" : ",").append(jsonString(name)).append(':').append(value(random, depth));
        }
        return object.append('}').toString();
    }

    /** Any JSON text, or text that only looks like JSON. */
    static String json(Random random, int depth) {
        String json = random.nextInt(3) == 0 ? value(random, depth) : object(random, depth, random.nextInt(5));
        return switch (random.nextInt(6)) {
            case 0 -> mutate(random, json);
            case 1 -> json + json;
            default -> json;
        };
    }

    /** A record body: mostly declared fields with values of the right type or a wrong one. */
    static String record(Random random, boolean schemaless) {
        StringBuilder object = new StringBuilder("{");
        List<String> fields = List.of("title", "pages", "price", "published", "tags", "meta", "available", "isbn");
        int size = random.nextInt(6);
        if (!schemaless && random.nextBoolean()) {
            object.append("\"title\":").append(random.nextBoolean() ? jsonString(text(random)) : value(random, 1));
            size--;
        }
        for (int i = 0; i < size; i++) {
            String name = random.nextInt(5) == 0 ? text(random) : fields.get(random.nextInt(fields.size()));
            object.append(object.length() == 1 ? "" : ",").append(jsonString(name)).append(':').append(value(random, 3));
        }
        if (random.nextInt(20) == 0) {
            for (int i = 0; i < 1001; i++) {
                object.append(object.length() == 1 ? "" : ",").append("\"f").append(i).append("\":").append(i);
            }
        }
        return object.append('}').toString();
    }

    /** A collection schema: well-formed or not, with types that exist and some that do not. */
    static String schema(Random random) {
        if (random.nextInt(4) == 0) {
            return json(random, 3);
        }
        List<String> types = List.of("string", "number", "integer", "boolean", "object", "array", "timestamp", "uuid", "", "STRING");
        StringBuilder fields = new StringBuilder("{");
        int size = random.nextInt(5);
        for (int i = 0; i < size; i++) {
            String name = random.nextBoolean() ? "f" + i : text(random);
            String type = random.nextInt(5) == 0 ? value(random, 1) : jsonString(types.get(random.nextInt(types.size())));
            fields.append(i == 0 ? "" : ",").append(jsonString(name)).append(":{\"type\":").append(type);
            if (random.nextBoolean()) {
                fields.append(",\"required\":").append(random.nextBoolean() ? "true" : value(random, 1));
            }
            if (random.nextBoolean()) {
                fields.append(",\"encrypted\":").append(random.nextBoolean() ? "true" : value(random, 1));
            }
            fields.append('}');
        }
        return "{\"fields\":" + fields.append('}') + "}";
    }

    /** An e-mail field's JSON value: any JSON value, or hostile text (U+0000 and other controls included). */
    static String emailValue(Random random) {
        return random.nextInt(4) == 0 ? value(random, 1) : jsonString(text(random));
    }

    /** The body as UTF-8, sometimes with bytes that are not UTF-8, a BOM, or cut short. */
    static byte[] bytes(Random random, String body) {
        byte[] utf8 = body.getBytes(StandardCharsets.UTF_8);
        return switch (random.nextInt(12)) {
            case 0 -> concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, utf8);
            case 1 -> concat(utf8, new byte[] {(byte) 0xC3, (byte) 0x28, (byte) 0xFF, (byte) 0xFE});
            case 2 -> java.util.Arrays.copyOf(utf8, utf8.length / 2);
            case 3 -> new byte[0];
            default -> utf8;
        };
    }

    private static byte[] concat(byte[] first, byte[] second) {
        byte[] both = java.util.Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, both, first.length, second.length);
        return both;
    }

    /** A path segment: percent-encoded hostile text, or raw bytes a URI would not allow. */
    static String pathSegment(Random random) {
        return switch (random.nextInt(6)) {
            case 0 -> List.of("..", ".", "%2e%2e", "%2F", "%00", "%ZZ", "%", "%C0%AE", "%FF", "a;b", "a?b=c", "~", "*", "%20")
                    .get(random.nextInt(14));
            case 1 -> "x".repeat(64 + random.nextInt(3000));
            default -> percentEncode(text(random));
        };
    }

    /** Percent-encodes every byte of the UTF-8 form except the unreserved characters (RFC 3986 section 2.3). */
    static String percentEncode(String text) {
        StringBuilder encoded = new StringBuilder();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c < 0x80 && (Character.isLetterOrDigit(c) || c == '-' || c == '.' || c == '_' || c == '~')) {
                encoded.append(c);
            } else {
                encoded.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return encoded.toString();
    }

    static String shorten(String text, int length) {
        return text.length() <= length ? text : text.substring(0, length) + "...(" + text.length() + " chars)";
    }
}
