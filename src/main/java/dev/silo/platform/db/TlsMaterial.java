package dev.silo.platform.db;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Date;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/**
 * The certificate authority and server certificate of the embedded PostgreSQL, generated in-process on
 * first start (BouncyCastle, ~0.3 s) and kept in the data directory. Silo's JDBC connections verify the
 * server against {@link #caCertificate()} with {@code sslmode=verify-full} (claim C11). The same generator makes
 * the development HTTPS certificate of {@code SILO_TLS=self-signed} (claim C9), with the public host added to its names.
 */
public record TlsMaterial(Path caCertificate, Path serverCertificate, Path serverKey) {
    private static final Duration VALIDITY = Duration.ofDays(3650);

    public TlsMaterial {
        requireNonNull(caCertificate, "caCertificate is null");
        requireNonNull(serverCertificate, "serverCertificate is null");
        requireNonNull(serverKey, "serverKey is null");
    }

    /** The names every generated server certificate covers: this machine, by name and by address. */
    private static final List<String> LOCAL_NAMES = List.of("localhost", "127.0.0.1", "::1");

    /** Returns the material in {@code dir}, generating it when any file is missing. */
    public static TlsMaterial ensure(Path dir) {
        return ensure(dir, "Silo embedded PostgreSQL CA", List.of());
    }

    /**
     * Returns the material in {@code dir}, generating it when a file is missing or the server certificate does not
     * cover every name (the local names and {@code extraNames}: host names or IP addresses).
     *
     * @param caLabel what the CA's common name says it is for (users see it when they trust the CA)
     */
    public static TlsMaterial ensure(Path dir, String caLabel, List<String> extraNames) {
        requireNonNull(caLabel, "caLabel is null");
        Set<String> names = new LinkedHashSet<>(LOCAL_NAMES);
        names.addAll(extraNames);
        TlsMaterial material = new TlsMaterial(dir.resolve("ca.crt"), dir.resolve("server.crt"), dir.resolve("server.key"));
        if (Files.exists(material.caCertificate) && Files.exists(material.serverCertificate) && Files.exists(material.serverKey)
                && covers(material.serverCertificate, names)) {
            return material;
        }
        try {
            PrivateFiles.createDirectories(dir);
            generate(material, caLabel, names);
            return material;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write TLS material to " + dir, e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot generate TLS material (" + caLabel + ")", e);
        }
    }

    /** Whether the certificate in {@code file} names every one of {@code names}; false when it cannot be read. */
    private static boolean covers(Path file, Set<String> names) {
        try (var in = Files.newInputStream(file)) {
            X509Certificate certificate = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            Set<String> present = new HashSet<>();
            Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
            if (alternatives != null) {
                for (List<?> entry : alternatives) {
                    present.add(String.valueOf(entry.get(1)).toLowerCase(Locale.ROOT));
                }
            }
            // getSubjectAlternativeNames spells ::1 as 0:0:0:0:0:0:0:1
            return names.stream().allMatch(name -> present.contains(name.toLowerCase(Locale.ROOT))
                    || present.contains(canonicalAddress(name)));
        } catch (Exception e) {
            return false;
        }
    }

    private static String canonicalAddress(String name) {
        if (!isAddress(name)) {
            return name;
        }
        try {
            return java.net.InetAddress.getByName(name).getHostAddress().toLowerCase(Locale.ROOT);
        } catch (java.net.UnknownHostException e) {
            return name;
        }
    }

    /** An IPv4 or IPv6 literal (never resolved through DNS). */
    private static boolean isAddress(String name) {
        return name.contains(":") || name.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
    }

    private static void generate(TlsMaterial material, String caLabel, Set<String> names) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        SecureRandom random = new SecureRandom();
        Instant now = Instant.now();
        Date notBefore = Date.from(now.minus(Duration.ofHours(1)));
        Date notAfter = Date.from(now.plus(VALIDITY));
        JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();

        KeyPair caKeys = generator.generateKeyPair();
        X500Name caName = new X500Name("CN=" + caLabel + " " + now.getEpochSecond());
        X509v3CertificateBuilder ca = new JcaX509v3CertificateBuilder(caName, new BigInteger(127, random),
                notBefore, notAfter, caName, caKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                .addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(caKeys.getPublic()));
        X509Certificate caCertificate = new JcaX509CertificateConverter()
                .getCertificate(ca.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));

        KeyPair serverKeys = generator.generateKeyPair();
        GeneralNames alternativeNames = new GeneralNames(names.stream()
                .map(name -> new GeneralName(isAddress(name) ? GeneralName.iPAddress : GeneralName.dNSName, name))
                .toArray(GeneralName[]::new));
        X509v3CertificateBuilder server = new JcaX509v3CertificateBuilder(caCertificate, new BigInteger(127, random),
                notBefore, notAfter, new X500Name("CN=localhost"), serverKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                .addExtension(Extension.subjectAlternativeName, false, alternativeNames)
                .addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(serverKeys.getPublic()))
                .addExtension(Extension.authorityKeyIdentifier, false, extensions.createAuthorityKeyIdentifier(caCertificate));
        X509Certificate serverCertificate = new JcaX509CertificateConverter()
                .getCertificate(server.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));

        // The CA key is not kept: a new certificate means a new CA, generated the same way.
        writePrivate(material.serverKey, pem(new JcaPKCS8Generator(serverKeys.getPrivate(), null)));
        writePublic(material.serverCertificate, pem(serverCertificate));
        writePublic(material.caCertificate, pem(caCertificate));
    }

    private static String pem(Object object) throws IOException {
        if (object instanceof JcaPKCS8Generator generator) {
            object = generator.generate();
        }
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        }
        return text.toString();
    }

    private static void writePrivate(Path file, String content) throws IOException {
        Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(temp);
        // PostgreSQL refuses a key file readable by group or others.
        Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(temp, content);
        Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Certificates are public, but nobody else needs to read them: owner only, like everything in the data directory. */
    private static void writePublic(Path file, String content) throws IOException {
        writePrivate(file, content);
    }
}
