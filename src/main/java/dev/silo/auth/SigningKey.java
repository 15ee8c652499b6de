package dev.silo.auth;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * One HS256 secret of a tenant and its key id ({@code kid}, sent in each token's header).
 *
 * <p>{@code retiresAt}, when present, ends the key: from that instant {@link TokenService} neither signs nor
 * accepts tokens with it. After a rotation the previous key is looked up with {@code retiresAt} = rotation
 * time + grace period, so its tokens keep working until then and not a moment longer, whatever the lookup's
 * cache says.
 *
 * <p>The secret is copied in and out; {@link #toString()} never shows it. Equality compares the secret's
 * content (not in constant time: keys are compared only with keys, never with attacker input).
 *
 * @param kid 1 to 64 characters of {@code [A-Za-z0-9_-]}
 * @param secret at least 32 bytes (256 bits, RFC 7518 section 3.2)
 */
public record SigningKey(String kid, byte[] secret, Optional<Instant> retiresAt) {
    /** HS256 needs a key of at least the hash size (RFC 7518 section 3.2). */
    public static final int MIN_SECRET_BYTES = 32;
    private static final Pattern KID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    public SigningKey {
        requireNonNull(kid, "kid is null");
        requireNonNull(secret, "secret is null");
        requireNonNull(retiresAt, "retiresAt is null");
        if (!isWellFormedKid(kid)) {
            throw new IllegalArgumentException("kid must be 1 to 64 characters of [A-Za-z0-9_-]");
        }
        if (secret.length < MIN_SECRET_BYTES) {
            throw new IllegalArgumentException("an HS256 secret needs at least " + MIN_SECRET_BYTES
                    + " bytes, got " + secret.length + " (kid " + kid + ")");
        }
        secret = secret.clone();
    }

    /** A key that does not retire, from a secret such as {@link JwtSecrets#generate()} returns (its UTF-8 bytes). */
    public static SigningKey of(String kid, String secret) {
        requireNonNull(secret, "secret is null");
        return new SigningKey(kid, secret.getBytes(StandardCharsets.UTF_8), Optional.empty());
    }

    /** This key, ending at {@code instant}: for the previous key during its grace period. */
    public SigningKey retiringAt(Instant instant) {
        return new SigningKey(kid, secret, Optional.of(requireNonNull(instant, "instant is null")));
    }

    /** Whether this key may no longer sign or verify at {@code now}. */
    public boolean isRetiredAt(Instant now) {
        return retiresAt.isPresent() && !now.isBefore(retiresAt.get());
    }

    /** A copy of the secret. */
    @Override
    public byte[] secret() {
        return secret.clone();
    }

    /** The secret without a copy, for this package only: must not be modified. */
    byte[] secretBytes() {
        return secret;
    }

    static boolean isWellFormedKid(String kid) {
        return KID.matcher(kid).matches();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SigningKey other
                && kid.equals(other.kid)
                && Arrays.equals(secret, other.secret)
                && retiresAt.equals(other.retiresAt);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kid, Arrays.hashCode(secret), retiresAt);
    }

    @Override
    public String toString() {
        return "SigningKey[kid=" + kid + ", secret=(" + secret.length + " bytes), retiresAt="
                + retiresAt.map(Instant::toString).orElse("never") + "]";
    }
}
