package dev.silo.auth.mfa;

import dev.silo.auth.OpaqueTokens;
import org.apache.commons.codec.binary.Base32;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One-time recovery codes: ten per enrolment, each 80 random bits written as 16 base32 characters in groups of four
 * ({@code ABCD-EFGH-IJKL-MNOP}). Shown once; stored as the SHA-256 of the 16 characters. A plain hash is enough,
 * as for the opaque tokens: 80 random bits cannot be found from their hash, and it lets the check be an index lookup.
 */
final class RecoveryCodes {
    static final int COUNT = 10;
    private static final int BYTES = 10;
    private static final Pattern FORMAT = Pattern.compile("[A-Z2-7]{16}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private RecoveryCodes() {}

    static List<String> generate() {
        List<String> codes = new ArrayList<>(COUNT);
        Base32 base32 = new Base32();
        for (int i = 0; i < COUNT; i++) {
            byte[] bytes = new byte[BYTES];
            RANDOM.nextBytes(bytes);
            String plain = base32.encodeAsString(bytes); // 80 bits: 16 characters, no padding
            codes.add(plain.substring(0, 4) + "-" + plain.substring(4, 8) + "-" + plain.substring(8, 12) + "-"
                    + plain.substring(12, 16));
        }
        return List.copyOf(codes);
    }

    /** The 16 characters of a code as typed (dashes, spaces and case ignored); empty when it cannot be one. */
    static Optional<String> normalize(String code) {
        if (code == null || code.length() > 40) {
            return Optional.empty();
        }
        String plain = code.replace("-", "").replace(" ", "").toUpperCase(Locale.ROOT);
        return FORMAT.matcher(plain).matches() ? Optional.of(plain) : Optional.empty();
    }

    /** What is stored of a code: the SHA-256 of its normalized form. */
    static String hash(String code) {
        return OpaqueTokens.hash(normalize(code).orElseThrow(() -> new IllegalArgumentException("not a recovery code")));
    }
}
