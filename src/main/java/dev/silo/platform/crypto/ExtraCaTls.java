package dev.silo.platform.crypto;

import dev.silo.platform.config.LogDrainSettings;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;

/**
 * A client TLS context for an outside service (a log drain, an SMTP server): the JDK's default trust store (the
 * public CAs a hosted service's certificate chains to), plus the certificates of an operator's PEM file for one
 * with a private CA ({@code SILO_LOG_DRAINS_CA}, {@code SILO_SMTP_CA}). Both in one PKIX trust manager, so hostname
 * verification and the usual path checks apply to either.
 */
public final class ExtraCaTls {
    private ExtraCaTls() {}

    /**
     * @param service what the context is for, in the certificates' aliases and in an error ("log-drains", "smtp")
     */
    public static SSLContext context(Optional<Path> caFile, String service) {
        try {
            TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            jdk.init((KeyStore) null);
            TrustManager[] managers = jdk.getTrustManagers();
            if (caFile.isPresent()) {
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                int index = 0;
                for (TrustManager manager : managers) {
                    if (manager instanceof X509TrustManager x509) {
                        for (X509Certificate certificate : x509.getAcceptedIssuers()) {
                            store.setCertificateEntry("jdk-" + index++, certificate);
                        }
                    }
                }
                List<X509Certificate> extra = LogDrainSettings.readCertificates(caFile.get());
                for (int i = 0; i < extra.size(); i++) {
                    store.setCertificateEntry("silo-" + service + "-ca-" + i, extra.get(i));
                }
                TrustManagerFactory combined = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                combined.init(store);
                managers = combined.getTrustManagers();
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, managers, null);
            return context;
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("cannot set up TLS for " + service + ": " + e, e);
        }
    }
}
