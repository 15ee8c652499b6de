package dev.silo.auth;

import dev.silo.platform.problem.BadRequest;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * The rules a new password must meet (claim C2): at least {@link #minLength()} characters (Unicode code
 * points), at most {@value #MAX_BYTES} bytes in UTF-8, and not the account's e-mail address.
 *
 * <p>The upper bound is bcrypt's: it reads only the first 72 bytes of a password, so a longer one would be
 * silently truncated and two passwords sharing those bytes would both match. Silo rejects such a password
 * with a {@code password-too-long} problem instead; {@link PasswordHasher#hash} enforces the same bound so
 * no path can store a truncated password. Passwords are taken as given: no trimming and no Unicode
 * normalisation, so what the user typed is what is hashed.
 */
public final class PasswordPolicy {
    /** bcrypt's input limit in bytes. */
    public static final int MAX_BYTES = 72;
    public static final int DEFAULT_MIN_LENGTH = 12;
    /** Below this no configuration is accepted (NIST SP 800-63B asks for at least 8). */
    public static final int LOWEST_MIN_LENGTH = 8;

    private final int minLength;

    public PasswordPolicy() {
        this(DEFAULT_MIN_LENGTH);
    }

    /** @throws IllegalArgumentException when {@code minLength} is below 8 or so high that no password fits in 72 bytes */
    public PasswordPolicy(int minLength) {
        if (minLength < LOWEST_MIN_LENGTH || minLength > MAX_BYTES) {
            throw new IllegalArgumentException("password minimum length must be between " + LOWEST_MIN_LENGTH
                    + " and " + MAX_BYTES + " characters, got " + minLength);
        }
        this.minLength = minLength;
    }

    public int minLength() {
        return minLength;
    }

    /**
     * Accepts {@code password} as the new password of the account with {@code email}, or throws.
     *
     * @throws BadRequest {@code password-too-long} over 72 UTF-8 bytes (checked first; the detail names the
     *     limit), {@code weak-password} when missing, too short or equal to the e-mail ignoring case.
     *     No detail ever contains the password.
     */
    public void check(String password, String email) {
        if (password == null) {
            throw new BadRequest("weak-password", "a password is required");
        }
        requireWithinBcryptLimit(password);
        if (password.codePointCount(0, password.length()) < minLength) {
            throw new BadRequest("weak-password", "the password must have at least " + minLength + " characters",
                    Map.of("min_length", minLength));
        }
        requireNonNull(email, "email is null");
        if (password.strip().toLowerCase(Locale.ROOT).equals(email.strip().toLowerCase(Locale.ROOT))) {
            throw new BadRequest("weak-password", "the password must not be the e-mail address");
        }
    }

    /** Whether bcrypt would read all of {@code password}. */
    static boolean fitsBcrypt(String password) {
        return utf8Length(password) <= MAX_BYTES;
    }

    static void requireWithinBcryptLimit(String password) {
        if (!fitsBcrypt(password)) {
            throw new BadRequest("password-too-long",
                    "the password is longer than " + MAX_BYTES + " bytes in UTF-8, the limit of bcrypt; "
                            + "Silo rejects longer passwords instead of truncating them",
                    Map.of("max_bytes", MAX_BYTES));
        }
    }

    private static int utf8Length(String password) {
        return password.getBytes(StandardCharsets.UTF_8).length;
    }
}
