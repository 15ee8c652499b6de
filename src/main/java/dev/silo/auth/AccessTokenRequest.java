package dev.silo.auth;

import java.time.Duration;

import static java.util.Objects.requireNonNull;

/**
 * What an access token says, for {@link TokenService#issue}.
 *
 * @param issuer the {@code iss} claim: {@code <public URL>/t/<slug>}
 * @param audience the {@code aud} claim
 * @param userId the {@code sub} claim
 * @param tenantId the {@code tid} claim
 * @param role the {@code role} claim, such as {@code admin} or {@code member}
 * @param sessionId the {@code sid} claim: the refresh-token family, so that logout can revoke this token
 * @param ttl from {@code iat} to {@code exp}: positive, at most one day
 */
public record AccessTokenRequest(
        String issuer, String audience, String userId, String tenantId, String role, String sessionId, Duration ttl) {
    public static final Duration DEFAULT_TTL = Duration.ofMinutes(15);
    public static final Duration MAX_TTL = Duration.ofDays(1);

    public AccessTokenRequest {
        requireNonEmpty(issuer, "issuer");
        requireNonEmpty(audience, "audience");
        requireNonEmpty(userId, "userId");
        requireNonEmpty(tenantId, "tenantId");
        requireNonEmpty(role, "role");
        requireNonEmpty(sessionId, "sessionId");
        requireNonNull(ttl, "ttl is null");
        if (ttl.compareTo(Duration.ofSeconds(1)) < 0 || ttl.compareTo(MAX_TTL) > 0) {
            throw new IllegalArgumentException("ttl must be between 1 second and " + MAX_TTL + ", got " + ttl);
        }
    }

    /** A request with the default lifetime of 15 minutes. */
    public AccessTokenRequest(
            String issuer, String audience, String userId, String tenantId, String role, String sessionId) {
        this(issuer, audience, userId, tenantId, role, sessionId, DEFAULT_TTL);
    }

    static void requireNonEmpty(String value, String name) {
        requireNonNull(value, name + " is null");
        if (value.isEmpty()) {
            throw new IllegalArgumentException(name + " is empty");
        }
    }
}
