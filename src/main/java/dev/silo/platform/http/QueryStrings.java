package dev.silo.platform.http;

import dev.silo.platform.problem.BadRequest;

import io.helidon.webserver.http.ServerRequest;

import java.util.Map;
import java.util.Set;

/**
 * The query-string check Silo does instead of Helidon's prologue validation: everything RFC 3986 allows in a
 * query, plus raw {@code [} and {@code ]} (browsers and most HTTP clients send {@code filter[name]=Ada} as
 * typed), and well-formed percent-escapes. Anything else is a 400 {@code invalid-query} naming the parameter.
 */
public final class QueryStrings {
    private QueryStrings() {}

    static void check(String rawQuery) {
        if (rawQuery == null || rawQuery.isEmpty()) {
            return;
        }
        int parameterStart = 0;
        for (int i = 0; i < rawQuery.length(); i++) {
            char c = rawQuery.charAt(i);
            if (c == '&') {
                parameterStart = i + 1;
            } else if (c == '%') {
                if (i + 2 >= rawQuery.length() || Character.digit(rawQuery.charAt(i + 1), 16) < 0
                        || Character.digit(rawQuery.charAt(i + 2), 16) < 0) {
                    throw invalid(rawQuery, parameterStart, "a '%' that is not followed by two hex digits");
                }
                i += 2;
            } else if (!allowed(c)) {
                throw invalid(rawQuery, parameterStart, c < 0x20 || c >= 0x7f
                        ? "a character that must be percent-encoded (code " + (int) c + ")"
                        : "the character '" + c + "', which must be percent-encoded");
            }
        }
    }

    /** RFC 3986 section 3.4: pchar / "/" / "?", and the brackets Silo accepts besides. */
    private static boolean allowed(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || "-._~!$&'()*+,;=:@/?[]".indexOf(c) >= 0;
    }

    private static BadRequest invalid(String rawQuery, int parameterStart, String what) {
        int end = rawQuery.indexOf('&', parameterStart);
        String parameter = rawQuery.substring(parameterStart, end < 0 ? rawQuery.length() : end);
        int equals = parameter.indexOf('=');
        String name = equals < 0 ? parameter : parameter.substring(0, equals);
        if (name.length() > 100) {
            name = name.substring(0, 100) + "...";
        }
        String printable = name.codePoints().allMatch(cp -> cp >= 0x20 && cp < 0x7f) ? name : "(unprintable)";
        return new BadRequest("invalid-query", "query parameter '" + printable + "' contains " + what,
                Map.of("parameter", printable));
    }

    /**
     * Refuses a query naming a parameter the route does not take, or naming one twice: a misspelt {@code limt=5}
     * or {@code befor=} silently ignored would look like a bug in the data. {@code takes} is the sentence ending the
     * message ("this listing takes limit and cursor").
     */
    public static void allowOnly(ServerRequest request, Set<String> names, String takes) {
        for (String name : request.query().names()) {
            String shown = name.length() > 64 ? name.substring(0, 64) + "..." : name;
            if (!names.contains(name)) {
                throw new BadRequest("invalid-parameter", "unknown query parameter '" + shown + "' (" + takes + ")");
            }
            if (request.query().all(name).size() != 1) {
                throw new BadRequest("invalid-parameter", "'" + shown + "' is given more than once");
            }
        }
    }
}
