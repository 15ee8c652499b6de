package dev.silo.auth;

import java.time.Duration;
import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * A freshly signed access token. {@link #toString()} leaves the token out, so it cannot reach a log by accident.
 *
 * @param value the compact JWT, for {@code access_token}
 */
public record IssuedAccessToken(String value, String jti, Instant issuedAt, Instant expiresAt) {
    public IssuedAccessToken {
        requireNonNull(value, "value is null");
        requireNonNull(jti, "jti is null");
        requireNonNull(issuedAt, "issuedAt is null");
        requireNonNull(expiresAt, "expiresAt is null");
    }

    /** Seconds from issue to expiry, for the OAuth2 {@code expires_in} (RFC 6749 section 5.1). */
    public long expiresInSeconds() {
        return Duration.between(issuedAt, expiresAt).toSeconds();
    }

    @Override
    public String toString() {
        return "IssuedAccessToken[jti=" + jti + ", issuedAt=" + issuedAt + ", expiresAt=" + expiresAt + "]";
    }
}
