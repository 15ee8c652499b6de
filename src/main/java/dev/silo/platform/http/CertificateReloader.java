package dev.silo.platform.http;

import io.helidon.webserver.WebServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * Puts a renewed certificate into service without a restart (claim C9): every {@code period} it looks at the
 * certificate and key files (modification time, size, inode), and once a change has held still for one period (a
 * renewal tool writing the two files one after the other is not caught half-way) it loads both and hands them to
 * Helidon's {@link WebServer#reloadTls}, which swaps the key material under the listening socket: new handshakes get
 * the new certificate, open connections keep theirs.
 *
 * <p>A new pair that does not load (a key that is not the certificate's, a truncated file) leaves the old
 * certificate serving, with one error line per bad version of the files, not one per poll.
 */
final class CertificateReloader implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CertificateReloader.class);

    private final Path certificateFile;
    private final Path keyFile;
    private final WebServer server;
    private final ScheduledExecutorService poller;
    /** The file versions now serving (or last refused). Only the poller thread touches these. */
    private Versions serving;
    private Versions seen;

    private CertificateReloader(Path certificateFile, Path keyFile, Versions loaded, WebServer server, Duration period) {
        this.certificateFile = requireNonNull(certificateFile, "certificateFile is null");
        this.keyFile = requireNonNull(keyFile, "keyFile is null");
        this.server = requireNonNull(server, "server is null");
        this.serving = requireNonNull(loaded, "loaded is null");
        this.seen = serving;
        this.poller = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("silo-tls-reload").factory());
        long millis = period.toMillis();
        poller.scheduleWithFixedDelay(this::poll, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Watches the files {@code server} was started with.
     *
     * @param loaded {@link #versions} of the files taken before they were loaded: a renewal between loading and
     *               this call is then picked up by the first poll
     */
    static CertificateReloader start(Path certificateFile, Path keyFile, Versions loaded, WebServer server, Duration period) {
        return new CertificateReloader(certificateFile, keyFile, loaded, server, period);
    }

    private void poll() {
        try {
            Versions now = versions();
            if (now.equals(serving)) {
                seen = now;
                return;
            }
            if (!now.equals(seen)) {
                seen = now; // changed since the last look: wait one more period for the writer to finish
                return;
            }
            serving = now;
            ServerCertificate certificate;
            try {
                certificate = ServerCertificate.load(certificateFile, keyFile);
            } catch (ServerCertificate.Invalid e) {
                log.error("The TLS certificate files changed but cannot be used, so the previous certificate stays in "
                        + "service: {} ({}). Fixed files are picked up the same way, without a restart", e.getMessage(), e.setting());
                return;
            }
            server.reloadTls(certificate.tls());
            log.info("TLS certificate reloaded from {}: {}, valid until {}", certificateFile, certificate.subject(),
                    certificate.notAfter());
        } catch (RuntimeException e) {
            // Never let the poller die: a later renewal must still be picked up.
            log.error("Reloading the TLS certificate from {} failed; the previous certificate stays in service", certificateFile, e);
        }
    }

    private Versions versions() {
        return versions(certificateFile, keyFile);
    }

    /** What identifies this version of the two files: modification time, size and inode of each. */
    static Versions versions(Path certificateFile, Path keyFile) {
        return new Versions(version(certificateFile), version(keyFile));
    }

    private static String version(Path file) {
        try {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            return attributes.lastModifiedTime().toInstant() + "/" + attributes.size() + "/" + Objects.toString(attributes.fileKey());
        } catch (IOException e) {
            return "unreadable";
        }
    }

    record Versions(String certificate, String key) {}

    @Override
    public void close() {
        poller.shutdownNow();
    }
}
