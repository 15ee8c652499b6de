package dev.silo.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Opaque bearer tokens: refresh tokens, password-reset tokens, staff-access grants, service credentials and MFA tickets. Each is a recognisable prefix (so a leaked
 * one can be spotted by secret scanners and in support tickets) and 256 random bits in base64url without
 * padding, 43 characters.
 *
 * <p>Only {@link #hash} of a token is stored. A plain SHA-256 is enough, unlike for passwords: the token has
 * 256 bits of entropy, so nothing can be guessed from the hash, and a fast hash lets the lookup be an index
 * search on the hash. Where a token is compared with a stored hash in memory, use {@link #matches}, which does
 * not leak by timing how much of it was right.
 */
public final class OpaqueTokens {
    /** The kinds of token, by prefix. */
    public enum Kind {
        /** Silo refresh token. */
        REFRESH("srt_"),
        /** Silo password-reset token. */
        PASSWORD_RESET("spr_"),
        /** A staff-access grant of an operator to one tenant's data (issue 17). */
        STAFF_GRANT("silo_ga_"),
        /** A credential of one of the tenant's own services, for token introspection (issue 19.4). */
        SERVICE("silo_sk_"),
        /** The ticket of a login whose password was right and whose second factor is due (issue 19.2). */
        MFA_TICKET("silo_mt_"),
        /** An invitation to become a user of a tenant, mailed to the invitee (issue 19.1). */
        INVITATION("sin_"),
        /** Proof that a user reads mail at their address, mailed to it (issue 19.1). */
        EMAIL_VERIFICATION("sev_");

        private final String prefix;
        private final Pattern format;

        Kind(String prefix) {
            this.prefix = prefix;
            this.format = Pattern.compile(Pattern.quote(prefix) + "[A-Za-z0-9_-]{43}");
        }

        public String prefix() {
            return prefix;
        }
    }

    private static final SecureRandom RANDOM = new SecureRandom();

    private OpaqueTokens() {}

    /** A new random token of {@code kind}. */
    public static String generate(Kind kind) {
        requireNonNull(kind, "kind is null");
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return kind.prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /**
     * Whether {@code token} has the shape of a token of {@code kind}: check it before any lookup, so garbage
     * costs no database round trip. {@code null} is not well formed.
     */
    public static boolean isWellFormed(Kind kind, String token) {
        requireNonNull(kind, "kind is null");
        return token != null && token.length() == kind.prefix.length() + 43 && kind.format.matcher(token).matches();
    }

    /** The SHA-256 of the token's UTF-8 bytes in lower-case hex (64 characters): what is stored. */
    public static String hash(String token) {
        requireNonNull(token, "token is null");
        return HexFormat.of().formatHex(sha256().digest(token.getBytes(StandardCharsets.UTF_8)));
    }

    /** Whether {@code token} hashes to {@code storedHash}, compared in constant time. */
    public static boolean matches(String token, String storedHash) {
        requireNonNull(token, "token is null");
        requireNonNull(storedHash, "storedHash is null");
        return constantTimeEquals(hash(token), storedHash);
    }

    /**
     * Whether {@code a} and {@code b} are equal, in time that depends on their lengths only and not on where
     * they first differ ({@link MessageDigest#isEqual}).
     */
    public static boolean constantTimeEquals(String a, String b) {
        requireNonNull(a, "a is null");
        requireNonNull(b, "b is null");
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
