package dev.silo.platform.db;

import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * A PostgreSQL SCRAM-SHA-256 password verifier (RFC 5802, RFC 7677; the stored form of RFC 5803 that
 * {@code ALTER ROLE ... PASSWORD} accepts as already encrypted), computed here so the clear password never
 * travels to the server.
 *
 * <p>Why not PostgreSQL's default of 4,096 iterations: iterations slow down guessing a <em>human</em> password
 * from a stolen verifier. Tenant role passwords are 256 random bits, which no number of guesses reaches, while
 * every new connection pays the iterations on the client side (a few milliseconds of CPU each with 4,096),
 * and with many tenants sharing a connection budget, connections are opened often. So tenant roles get
 * {@link #TENANT_ITERATIONS}.
 */
public final class ScramVerifier {
    /** Iterations for verifiers of random, 256-bit passwords (see the class comment). */
    public static final int TENANT_ITERATIONS = 16;
    private static final Pattern FORM = Pattern.compile("SCRAM-SHA-256\\$\\d+:[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+");
    private static final SecureRandom RANDOM = new SecureRandom();

    private ScramVerifier() {}

    /** {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>}, all base64. */
    public static String of(String password, int iterations) {
        if (iterations < 1) {
            throw new IllegalArgumentException("iterations must be positive");
        }
        if (!password.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            // SASLprep is the identity only for printable ASCII; Silo's generated passwords are base64url.
            throw new IllegalArgumentException("only printable ASCII passwords are supported");
        }
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        try {
            byte[] salted = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                    .generateSecret(new PBEKeySpec(password.toCharArray(), salt, iterations, 256))
                    .getEncoded();
            byte[] clientKey = hmac(salted, "Client Key");
            byte[] storedKey = MessageDigest.getInstance("SHA-256").digest(clientKey);
            byte[] serverKey = hmac(salted, "Server Key");
            Base64.Encoder base64 = Base64.getEncoder();
            String verifier = "SCRAM-SHA-256$" + iterations + ":" + base64.encodeToString(salt) + "$"
                    + base64.encodeToString(storedKey) + ":" + base64.encodeToString(serverKey);
            if (!FORM.matcher(verifier).matches()) {
                throw new IllegalStateException("unexpected verifier form");
            }
            return verifier;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot compute a SCRAM verifier", e);
        }
    }

    private static byte[] hmac(byte[] key, String message) throws GeneralSecurityException {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return mac.doFinal(message.getBytes(StandardCharsets.US_ASCII));
    }
}
