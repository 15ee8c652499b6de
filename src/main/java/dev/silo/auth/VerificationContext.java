package dev.silo.auth;

import java.util.Optional;
import java.util.function.Function;

import static dev.silo.auth.AccessTokenRequest.requireNonEmpty;
import static java.util.Objects.requireNonNull;

/**
 * What a token must match to be accepted on one tenant's routes, for {@link TokenService#verify}.
 *
 * @param issuer the expected {@code iss}
 * @param audience the expected {@code aud}
 * @param tenantId the expected {@code tid}: the tenant of the URL
 * @param keys the keys of <em>this</em> tenant by kid: its current key and a previous one still in its grace
 *     period (with {@link SigningKey#retiresAt()} set), nothing else. Called once per verification with a
 *     well-formed kid; it should answer from memory. Its exceptions propagate (they are not a bad token).
 */
public record VerificationContext(
        String issuer, String audience, String tenantId, Function<String, Optional<SigningKey>> keys) {
    public VerificationContext {
        requireNonEmpty(issuer, "issuer");
        requireNonEmpty(audience, "audience");
        requireNonEmpty(tenantId, "tenantId");
        requireNonNull(keys, "keys is null");
    }
}
