package dev.silo.platform.http;

import io.helidon.common.tls.Tls;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * The certificate chain and private key Silo serves HTTPS with (claim C9), read from PEM files
 * ({@code SILO_TLS_CERT_FILE}: the server certificate first, then any intermediates; {@code SILO_TLS_KEY_FILE}:
 * an unencrypted PKCS#8 key, or the older PKCS#1 / SEC 1 forms) and checked before use: a key that does not belong
 * to the certificate would otherwise fail only at the first handshake, as a cryptic client-side error.
 *
 * <p>Only TLS 1.3 and 1.2, and in 1.2 only ephemeral ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20):
 * no CBC suite (padding oracles, Lucky 13), no static RSA key exchange (no forward secrecy), the set Mozilla's
 * "intermediate" profile recommends.
 */
public record ServerCertificate(List<X509Certificate> chain, PrivateKey key) {
    static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
    static final List<String> CIPHER_SUITES = List.of(
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    public ServerCertificate {
        requireNonNull(chain, "chain is null");
        requireNonNull(key, "key is null");
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("chain is empty");
        }
        chain = List.copyOf(chain);
    }

    /** A certificate file or key file that cannot serve; the message names the file and what is wrong with it. */
    public static final class Invalid extends RuntimeException {
        private final String setting;

        Invalid(String setting, String message) {
            super(message, null, false, false);
            this.setting = setting;
        }

        /** {@code SILO_TLS_CERT_FILE} or {@code SILO_TLS_KEY_FILE}: the setting to fix. */
        public String setting() {
            return setting;
        }
    }

    /**
     * Reads and checks both files.
     *
     * @throws Invalid when a file is missing or unreadable, holds no certificate or key, or the key is not the
     *                 certificate's
     */
    public static ServerCertificate load(Path certificateFile, Path keyFile) {
        List<X509Certificate> chain = readChain(certificateFile);
        PrivateKey key = readKey(keyFile);
        X509Certificate leaf = chain.getFirst();
        if (!matches(key, leaf.getPublicKey())) {
            throw new Invalid("SILO_TLS_KEY_FILE", "the private key in " + keyFile + " does not belong to the certificate in "
                    + certificateFile + " (" + leaf.getSubjectX500Principal().getName() + "); give the key the certificate was issued for");
        }
        return new ServerCertificate(chain, key);
    }

    /** Never the key: a record's generated {@code toString} would print whatever the key's own prints. */
    @Override
    public String toString() {
        return "ServerCertificate[" + subject() + ", " + chain.size() + " certificate(s), valid until " + notAfter() + "]";
    }

    /** The subject of the server certificate, for log lines. */
    public String subject() {
        return chain.getFirst().getSubjectX500Principal().getName();
    }

    public Instant notAfter() {
        return chain.getFirst().getNotAfter().toInstant();
    }

    /** Helidon's TLS configuration for this certificate: server side, no client certificates, the profile above. */
    Tls tls() {
        return Tls.builder()
                .privateKey(key)
                .privateKeyCertChain(chain)
                .enabledProtocols(PROTOCOLS)
                .enabledCipherSuites(CIPHER_SUITES)
                .build();
    }

    private static List<X509Certificate> readChain(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> chain = new ArrayList<>();
            for (var certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                chain.add((X509Certificate) certificate);
            }
            if (chain.isEmpty()) {
                throw new Invalid("SILO_TLS_CERT_FILE", file + " holds no certificate; expected PEM (-----BEGIN CERTIFICATE-----), "
                        + "the server certificate first, then any intermediates");
            }
            return chain;
        } catch (IOException e) {
            throw new Invalid("SILO_TLS_CERT_FILE", cannotRead(file, e));
        } catch (CertificateException e) {
            throw new Invalid("SILO_TLS_CERT_FILE", file + " is not a PEM certificate chain (" + e.getMessage() + ")");
        }
    }

    private static PrivateKey readKey(Path file) {
        try (Reader reader = Files.newBufferedReader(file); PEMParser parser = new PEMParser(reader)) {
            Object object = parser.readObject();
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            if (object instanceof PrivateKeyInfo info) {
                return converter.getPrivateKey(info);
            }
            if (object instanceof PEMKeyPair pair) {
                return converter.getKeyPair(pair).getPrivate();
            }
            if (object instanceof PKCS8EncryptedPrivateKeyInfo || object instanceof org.bouncycastle.openssl.PEMEncryptedKeyPair) {
                throw new Invalid("SILO_TLS_KEY_FILE", file + " holds an encrypted key; Silo needs it unencrypted (for example "
                        + "`openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem`), readable by its user only");
            }
            throw new Invalid("SILO_TLS_KEY_FILE", file + " holds no private key; expected PEM (-----BEGIN PRIVATE KEY-----, PKCS#8)");
        } catch (PEMException e) {
            throw new Invalid("SILO_TLS_KEY_FILE", file + " is not a PEM private key (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new Invalid("SILO_TLS_KEY_FILE", cannotRead(file, e));
        }
    }

    private static String cannotRead(Path file, IOException e) {
        return switch (e) {
            case NoSuchFileException missing -> "cannot read " + file + ": no such file";
            case AccessDeniedException denied -> "cannot read " + file + ": permission denied";
            default -> "cannot read " + file + " (" + e.getClass().getSimpleName() + ")";
        };
    }

    /** Whether {@code key} signs what {@code publicKey} verifies: the one check that holds for every key type. */
    private static boolean matches(PrivateKey key, PublicKey publicKey) {
        String algorithm = switch (publicKey.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            case "Ed448" -> "Ed448";
            default -> null;
        };
        if (algorithm == null || !publicKey.getAlgorithm().equals(key.getAlgorithm())
                && !(publicKey.getAlgorithm().startsWith("Ed") && key.getAlgorithm().startsWith("Ed"))) {
            return false;
        }
        try {
            byte[] challenge = new byte[32];
            new SecureRandom().nextBytes(challenge);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(challenge);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(challenge);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }
}
