package dev.silo.auth.mfa;

import com.eatthepath.otp.TimeBasedOneTimePasswordGenerator;
import org.apache.commons.codec.binary.Base32;

import javax.crypto.spec.SecretKeySpec;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

import static java.util.Objects.requireNonNull;

/**
 * Time-based one-time passwords (RFC 6238) as authenticator apps expect them: HMAC-SHA-1, 6 digits, 30-second
 * steps, and a 160-bit secret (the length RFC 4226 section 4 recommends) shown in base32 (RFC 4648) without padding.
 *
 * <p>The codes come from java-otp; a generator is made per check rather than shared, because its method is
 * {@code synchronized}: one shared instance would put every login of the node through one lock. Three HMAC-SHA-1 of
 * 8 bytes cost microseconds, nothing next to bcrypt, so this runs on the request's thread.
 */
final class Totp {
    static final Duration STEP = Duration.ofSeconds(30);
    static final int DIGITS = 6;
    static final int SECRET_BYTES = 20;
    /**
     * Codes of one step before and after the current one are accepted: a phone clock some seconds off, or a code
     * typed as it turned (RFC 6238 section 5.2 recommends at most one step of delay).
     */
    static final int SKEW_STEPS = 1;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALGORITHM = "HmacSHA1";

    private Totp() {}

    /** What a code check found. */
    sealed interface Match permits Accepted, Replayed, Wrong {}

    /** The code is that of {@code step}, within the window and after the last step used. */
    record Accepted(long step) implements Match {}

    /** The code is that of a step in the window that was already used (RFC 6238 section 5.2: refuse it). */
    record Replayed(long step) implements Match {}

    /** No step of the window has this code (or it is not six digits). */
    record Wrong() implements Match {}

    static byte[] newSecret() {
        byte[] secret = new byte[SECRET_BYTES];
        RANDOM.nextBytes(secret);
        return secret;
    }

    /** The secret as authenticator apps take it: base32, upper case, no padding. */
    static String base32(byte[] secret) {
        return new Base32().encodeAsString(secret).replace("=", "");
    }

    /** The RFC 6238 time step of {@code at}: whole 30-second periods since the Unix epoch. */
    static long step(Instant at) {
        return Math.floorDiv(at.getEpochSecond(), STEP.toSeconds());
    }

    /** The 6-digit code of {@code step}, zero-padded. */
    static String code(byte[] secret, long step) {
        try {
            TimeBasedOneTimePasswordGenerator generator = new TimeBasedOneTimePasswordGenerator(STEP, DIGITS, ALGORITHM);
            int code = generator.generateOneTimePassword(new SecretKeySpec(secret, ALGORITHM),
                    Instant.ofEpochSecond(step * STEP.toSeconds()));
            return String.format(Locale.ROOT, "%06d", code);
        } catch (InvalidKeyException e) {
            throw new IllegalStateException("an HMAC-SHA-1 key of " + secret.length + " bytes was refused", e);
        }
    }

    /**
     * Checks {@code code} against the steps {@code now - 1} to {@code now + 1}; a step at or before
     * {@code lastUsedStep} (null: none used yet) is never accepted, so each code works once. Every step of the window
     * is computed and compared in constant time, whatever matches first.
     */
    static Match check(byte[] secret, String code, Instant now, Long lastUsedStep) {
        requireNonNull(secret, "secret is null");
        String given = normalize(code);
        if (given == null) {
            return new Wrong();
        }
        long current = step(now);
        Match found = new Wrong();
        for (long step = current - SKEW_STEPS; step <= current + SKEW_STEPS; step++) {
            boolean equal = MessageDigest.isEqual(code(secret, step).getBytes(StandardCharsets.US_ASCII),
                    given.getBytes(StandardCharsets.US_ASCII));
            if (equal && found instanceof Wrong) {
                found = lastUsedStep != null && step <= lastUsedStep ? new Replayed(step) : new Accepted(step);
            } else if (equal && found instanceof Replayed && (lastUsedStep == null || step > lastUsedStep)) {
                found = new Accepted(step); // two steps of the window share the code: the unused one counts
            }
        }
        return found;
    }

    /** Six ASCII digits, spaces allowed between them ("123 456", as apps show them); null for anything else. */
    static String normalize(String code) {
        if (code == null || code.length() > 16) {
            return null;
        }
        String digits = code.replace(" ", "");
        if (digits.length() != DIGITS) {
            return null;
        }
        for (int i = 0; i < digits.length(); i++) {
            if (digits.charAt(i) < '0' || digits.charAt(i) > '9') {
                return null;
            }
        }
        return digits;
    }

    /**
     * The {@code otpauth://totp/} URI of Google Authenticator's key-URI format, which authenticator apps read from a
     * QR code: the label {@code issuer:account}, the secret, and the parameters spelled out (apps that ignore them
     * assume the same defaults).
     */
    static String uri(String issuer, String account, byte[] secret) {
        requireNonNull(issuer, "issuer is null");
        requireNonNull(account, "account is null");
        return "otpauth://totp/" + encode(issuer) + ":" + encode(account) + "?secret=" + base32(secret) + "&issuer="
                + encode(issuer) + "&algorithm=SHA1&digits=" + DIGITS + "&period=" + STEP.toSeconds();
    }

    /** Percent-encoding of a path segment or query value (a space as %20, which apps read, not '+'). */
    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
