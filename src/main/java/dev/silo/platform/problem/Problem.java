package dev.silo.platform.problem;

import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * An expected failure with an HTTP status and a stable problem {@code type}, rendered as an RFC 9457
 * {@code application/problem+json} body in one place ({@link ProblemRenderer}).
 *
 * <p>Problems carry no stack trace: they are outcomes, not bugs. Everything that is not a {@code Problem}
 * becomes an opaque 500, logged once with the request id. A detail must never contain a password, hash,
 * token, key or a connection string with credentials.
 */
public abstract sealed class Problem extends RuntimeException
        permits BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict, PreconditionFailed,
                PayloadTooLarge, UnsupportedMediaType, PreconditionRequired, TooManyRequests, Unavailable,
                HeadersTooLarge {
    /** Prefix of every problem type URI; the suffix is part of the API contract. */
    public static final String TYPE_BASE = "https://silo.dev/problems/";

    private final int status;
    private final String type;
    private final String title;
    private final Map<String, Object> extensions;

    protected Problem(int status, String type, String title, String detail, Map<String, Object> extensions) {
        super(requireNonNull(detail, "detail is null"), null, false, false);
        this.status = status;
        this.type = requireNonNull(type, "type is null");
        this.title = requireNonNull(title, "title is null");
        this.extensions = Map.copyOf(extensions);
    }

    public int status() {
        return status;
    }

    /** The short, stable name of this problem, such as {@code not-found}; the full type URI adds {@link #TYPE_BASE}. */
    public String type() {
        return type;
    }

    public String typeUri() {
        return TYPE_BASE + type;
    }

    public String title() {
        return title;
    }

    public String detail() {
        return getMessage();
    }

    /** Extra members of the problem body (RFC 9457 section 3.2), such as the invalid field. */
    public Map<String, Object> extensions() {
        return extensions;
    }

    /** Response headers the problem needs besides the content type, such as {@code Retry-After}. */
    public Map<String, String> headers() {
        return Map.of();
    }
}
