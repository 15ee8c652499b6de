package dev.silo.platform.problem;

import java.util.Map;

/** A 401; {@code challenge} becomes the {@code WWW-Authenticate} header (RFC 6750 section 3). */
public final class Unauthorized extends Problem {
    private final String challenge;

    public Unauthorized(String detail) {
        this("unauthorized", detail, "Bearer");
    }

    public Unauthorized(String type, String detail, String challenge) {
        this(type, detail, challenge, Map.of());
    }

    /** With extra members in the body, such as the ticket of a login that needs its second factor. */
    public Unauthorized(String type, String detail, String challenge, Map<String, Object> extensions) {
        super(401, type, "Unauthorized", detail, extensions);
        this.challenge = challenge;
    }

    @Override
    public Map<String, String> headers() {
        return Map.of("WWW-Authenticate", challenge);
    }
}
