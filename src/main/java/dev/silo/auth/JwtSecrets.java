package dev.silo.auth;

import java.security.SecureRandom;

/**
 * Random tenant JWT secrets and key ids, from {@link SecureRandom} over the 64-character URL-safe alphabet
 * {@code [A-Za-z0-9_-]} (6 bits per character, no modulo bias).
 *
 * <p>A secret of 64 characters carries 384 random bits; its UTF-8 bytes are the HMAC key
 * ({@link SigningKey#of}). Fewer than 40 characters (240 bits) are refused.
 */
public final class JwtSecrets {
    public static final int DEFAULT_LENGTH = 64;
    public static final int MIN_LENGTH = 40;
    /** 16 characters: 96 random bits, so two keys of Silo never share a kid in practice. */
    public static final int KID_LENGTH = 16;

    private static final char[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private JwtSecrets() {}

    /** A secret of {@value #DEFAULT_LENGTH} characters. */
    public static String generate() {
        return generate(DEFAULT_LENGTH);
    }

    /** @throws IllegalArgumentException when {@code length} is below {@value #MIN_LENGTH} */
    public static String generate(int length) {
        if (length < MIN_LENGTH) {
            throw new IllegalArgumentException("a JWT secret needs at least " + MIN_LENGTH + " characters, got "
                    + length);
        }
        return random(length);
    }

    /** A new random key id. */
    public static String newKid() {
        return random(KID_LENGTH);
    }

    private static String random(int length) {
        char[] chars = new char[length];
        for (int i = 0; i < length; i++) {
            chars[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
        }
        return new String(chars);
    }
}
