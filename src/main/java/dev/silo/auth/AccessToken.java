package dev.silo.auth;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * A verified access token: what the tenant routes may trust after {@link TokenService#verify}. Whether the
 * session ({@code sessionId}) or the user's tokens issued before {@code issuedAt} were revoked is checked by
 * the caller, against its revocation cache.
 */
public record AccessToken(
        String userId,
        String tenantId,
        String role,
        String sessionId,
        Instant issuedAt,
        Instant expiresAt,
        String jti,
        String kid) {
    public AccessToken {
        requireNonNull(userId, "userId is null");
        requireNonNull(tenantId, "tenantId is null");
        requireNonNull(role, "role is null");
        requireNonNull(sessionId, "sessionId is null");
        requireNonNull(issuedAt, "issuedAt is null");
        requireNonNull(expiresAt, "expiresAt is null");
        requireNonNull(jti, "jti is null");
        requireNonNull(kid, "kid is null");
    }
}
