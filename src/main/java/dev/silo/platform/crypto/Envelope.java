package dev.silo.platform.crypto;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.TinkProtoKeysetFormat;
import com.google.crypto.tink.aead.AeadConfig;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.aead.AesGcmParameters;
import com.google.crypto.tink.aead.PredefinedAeadParameters;
import com.google.crypto.tink.util.SecretBytes;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;

import static java.util.Objects.requireNonNull;

/**
 * Envelope encryption under the master key (AES-256-GCM through Tink). Every tenant secret (database
 * password, JWT secret, data keyset) is stored only as {@link #wrap wrapped} bytes.
 *
 * <p>The {@code context} is bound as associated data, so a wrapped value copied to another row or another
 * purpose does not unwrap: for example {@code "tenant/<id>/jwt-secret/<kid>"}.
 */
public final class Envelope {
    static {
        try {
            AeadConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** HKDF salt (RFC 5869 section 3.1): fixed, so every node derives the same keys from the same master key. */
    private static final byte[] DERIVATION_SALT = "silo/hkdf/v1".getBytes(StandardCharsets.UTF_8);

    private final Aead master;
    private final byte[] derivationSecret;

    private Envelope(Aead master, byte[] derivationSecret) {
        this.master = requireNonNull(master, "master is null");
        this.derivationSecret = requireNonNull(derivationSecret, "derivationSecret is null");
    }

    /** An envelope over a 32-byte AES-256 master key. */
    public static Envelope fromRawKey(byte[] rawKey) {
        requireNonNull(rawKey, "rawKey is null");
        if (rawKey.length != 32) {
            throw new IllegalArgumentException("master key must be 32 bytes, got " + rawKey.length);
        }
        try {
            AesGcmParameters parameters = AesGcmParameters.builder()
                    .setKeySizeBytes(32)
                    .setIvSizeBytes(12)
                    .setTagSizeBytes(16)
                    .setVariant(AesGcmParameters.Variant.NO_PREFIX)
                    .build();
            AesGcmKey key = AesGcmKey.builder()
                    .setParameters(parameters)
                    .setKeyBytes(SecretBytes.copyFrom(rawKey, InsecureSecretKeyAccess.get()))
                    .build();
            KeysetHandle handle = KeysetHandle.newBuilder()
                    .addEntry(KeysetHandle.importKey(key).withFixedId(1).makePrimary())
                    .build();
            return new Envelope(handle.getPrimitive(RegistryConfiguration.get(), Aead.class), rawKey.clone());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot build the master key primitive", e);
        }
    }

    /**
     * A 32-byte key for one purpose, derived from the master key with HKDF-SHA256 (RFC 5869) and the purpose as
     * {@code info}: for example the audit chains' HMAC keys. Different purposes give independent keys, and
     * none of them reveals the master key.
     */
    public byte[] deriveKey(String purpose) {
        requireNonNull(purpose, "purpose is null");
        try {
            return com.google.crypto.tink.subtle.Hkdf.computeHkdf("HMACSHA256", derivationSecret, DERIVATION_SALT,
                    purpose.getBytes(StandardCharsets.UTF_8), 32);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot derive a key for " + purpose, e);
        }
    }

    public byte[] wrap(byte[] plaintext, String context) {
        try {
            return master.encrypt(plaintext, context.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot wrap a secret for " + context, e);
        }
    }

    /**
     * @throws WrongKeyException when the value was wrapped under another master key or for another context
     */
    public byte[] unwrap(byte[] wrapped, String context) {
        try {
            return master.decrypt(wrapped, context.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new WrongKeyException("cannot unwrap the secret for " + context
                    + ": it was wrapped under another master key, or belongs to another context");
        }
    }

    public byte[] wrapString(String plaintext, String context) {
        return wrap(plaintext.getBytes(StandardCharsets.UTF_8), context);
    }

    public String unwrapString(byte[] wrapped, String context) {
        return new String(unwrap(wrapped, context), StandardCharsets.UTF_8);
    }

    /** A fresh AES-256-GCM data keyset for a tenant. */
    public static KeysetHandle newDataKeyset() {
        try {
            return KeysetHandle.generateNew(PredefinedAeadParameters.AES256_GCM);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate a data keyset", e);
        }
    }

    public byte[] wrapKeyset(KeysetHandle keyset, String context) {
        try {
            return TinkProtoKeysetFormat.serializeEncryptedKeyset(keyset, master, context.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot wrap the keyset for " + context, e);
        }
    }

    public KeysetHandle unwrapKeyset(byte[] wrapped, String context) {
        try {
            return TinkProtoKeysetFormat.parseEncryptedKeyset(wrapped, master, context.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new WrongKeyException("cannot unwrap the keyset for " + context
                    + ": it was wrapped under another master key, or belongs to another context");
        }
    }

    /** A wrapped value that does not open under this master key and context. */
    public static final class WrongKeyException extends RuntimeException {
        public WrongKeyException(String message) {
            super(message, null, false, false);
        }
    }
}
