package dev.silo.platform.errors;

import java.util.List;
import java.util.regex.Pattern;

/**
 * What of an exception message or log message may leave the process in an error report: the first line only (a
 * PostgreSQL message's {@code Detail:} line quotes the failing row, that is the request's data), at most
 * {@link #MAX_LENGTH} characters, with everything that may be a value removed. Conservative on purpose: a report
 * needs the kind of failure and where it happened (the exception class and the stack frames, sent whole), not the
 * data it failed on.
 *
 * <p>Removed, each replaced by {@code [redacted]}: credentials in URLs, JWTs, {@code Bearer}/{@code Basic}
 * credentials, the value after any name that looks secret ({@code password=}, {@code token:}, {@code api_key=},
 * {@code secret}, {@code credential}, {@code authorization}, {@code cookie}, {@code session}, {@code signature}),
 * every quoted string, PostgreSQL's {@code (column)=(value)} pairs, e-mail addresses, every run of 20 or more
 * letters, digits, {@code +/=_-} (keys, tokens, hashes, ids) and every number of 6 or more digits.
 */
public final class ErrorText {
    static final int MAX_LENGTH = 300;
    static final String REDACTED = "[redacted]";

    private record Rule(Pattern pattern, String replacement) {}

    private static final List<Rule> RULES = List.of(
            new Rule(Pattern.compile("(?i)\\b([a-z][a-z0-9+.-]*://)[^\\s/@]*@"), "$1" + REDACTED + "@"),
            new Rule(Pattern.compile("eyJ[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]*)?"), REDACTED),
            new Rule(Pattern.compile("(?i)\\b(bearer|basic|digest)\\s+\\S+"), "$1 " + REDACTED),
            new Rule(Pattern.compile("(?i)\\b([\\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|"
                    + "credential|authorization|cookie|session|signature)[\\w.-]*)(\\s*[=:]\\s*|\\s+is\\s+)"
                    + "(\"[^\"]*\"|'[^']*'|[^\\s,;)]+)"), "$1$2" + REDACTED),
            new Rule(Pattern.compile("\"[^\"]*\"|'[^']*'|`[^`]*`"), "\"" + REDACTED + "\""),
            new Rule(Pattern.compile("\\)=\\([^)]*\\)?"), ")=(" + REDACTED + ")"),
            new Rule(Pattern.compile("[\\w.+-]+@[\\w-]+(\\.[\\w-]+)+"), REDACTED),
            new Rule(Pattern.compile("[A-Za-z0-9+/=_-]{20,}"), REDACTED),
            new Rule(Pattern.compile("\\d{6,}"), REDACTED));

    private ErrorText() {}

    /** The reportable part of {@code text}; null stays null. */
    public static String scrub(String text) {
        if (text == null) {
            return null;
        }
        String line = text.strip();
        int newline = line.indexOf('\n');
        boolean cut = false;
        if (newline >= 0) {
            line = line.substring(0, newline).strip();
            cut = true;
        }
        if (line.length() > MAX_LENGTH * 2) {
            // bound the regex work before scrubbing; a value cut in half is still removed by the rules below
            line = line.substring(0, MAX_LENGTH * 2);
            cut = true;
        }
        for (Rule rule : RULES) {
            line = rule.pattern().matcher(line).replaceAll(rule.replacement());
        }
        if (line.length() > MAX_LENGTH) {
            line = line.substring(0, MAX_LENGTH);
            cut = true;
        }
        return cut ? line + " …" : line;
    }
}
