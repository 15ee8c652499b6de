package dev.silo.platform.log.drain;

import dev.silo.platform.config.LogDrainSettings;
import dev.silo.platform.db.TlsMaterial;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Without a node: TLS drains verify the certificate (chain and host name), and dropped lines are reported on the
 * {@code system} stream once per report period, saying why.
 */
class DrainTlsAndReportTest {
    private static final Logger log = LoggerFactory.getLogger("dev.silo.platform.DrainTlsAndReportTest");
    private static TlsMaterial material;

    @BeforeAll
    static void certificates() {
        TestingLogs.install();
        Path dir = TestingSilo.newDataDir("drain-report");
        material = TlsMaterial.ensure(dir, "Drain report test CA", List.of());
    }

    private static LogDrainSettings.Drain drain(String url) {
        URI uri = URI.create(url);
        LogDrainSettings.Transport transport = url.startsWith("syslog+tls:") ? LogDrainSettings.Transport.SYSLOG_TLS
                : LogDrainSettings.Transport.SYSLOG_TCP;
        return new LogDrainSettings.Drain(transport, uri.getHost(), uri.getPort(), uri);
    }

    private static LogDrains start(String url, Optional<Path> ca, Duration reportEvery) {
        return LogDrains.start(new LogDrainSettings(List.of(drain(url)), ca, "report-test", 100), reportEvery);
    }

    @Test
    void droppedLinesAreReportedOncePerPeriodWithTheReason() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        try (LogDrains drains = start("syslog://127.0.0.1:" + port, Optional.empty(), Duration.ofSeconds(1))) {
            String marker = UUID.randomUUID().toString();
            for (int i = 0; i < 300; i++) {
                log.info("line {} of {}", i, marker);
            }
            LogDrainAppender dead = drains.drains().getFirst();
            await().atMost(Duration.ofSeconds(20)).until(() -> dead.dropped() >= 200);
            await().atMost(Duration.ofSeconds(20)).until(() -> TestingLogs.lines().stream().anyMatch(line ->
                    line.contains("\"stream\":\"system\"") && line.contains("log lines dropped in the last 1 s for the log drain "
                            + "syslog://127.0.0.1:" + port + ": the drain cannot be reached (ConnectException")));
        }
    }

    @Test
    void aCertificateForAnotherNameIsRefused() throws Exception {
        // The certificate names localhost, 127.0.0.1 and ::1; 127.0.0.2 is this machine too, but not in it.
        try (TestingSyslogReceiver receiver = TestingSyslogReceiver.tls(material, "127.0.0.2");
             LogDrains drains = start("syslog+tls://127.0.0.2:" + receiver.port(), Optional.of(material.caCertificate()),
                     Duration.ofMinutes(1))) {
            LogDrainAppender drain = drains.drains().getFirst();
            await().atMost(Duration.ofSeconds(20)).until(() -> drain.connectAttempts() >= 1 && !drain.problem().isEmpty());
            assertThat(drain.problem()).contains("SSLHandshakeException");
            assertThat(drain.connections()).isZero();
            assertThat(receiver.messages()).isEmpty();
        }
    }

    @Test
    void aPrivateCaIsTrustedOnlyThroughSiloLogDrainsCa() throws Exception {
        try (TestingSyslogReceiver receiver = TestingSyslogReceiver.tls(material, "127.0.0.1")) {
            try (LogDrains untrusted = start("syslog+tls://localhost:" + receiver.port(), Optional.empty(), Duration.ofMinutes(1))) {
                LogDrainAppender drain = untrusted.drains().getFirst();
                await().atMost(Duration.ofSeconds(20)).until(() -> !drain.problem().isEmpty());
                assertThat(drain.problem()).contains("SSLHandshakeException");
                assertThat(drain.connections()).isZero();
            }
            String marker = UUID.randomUUID().toString();
            try (LogDrains trusted = start("syslog+tls://localhost:" + receiver.port(), Optional.of(material.caCertificate()),
                    Duration.ofMinutes(1))) {
                await().atMost(Duration.ofSeconds(20)).until(() -> trusted.drains().getFirst().connections() == 1);
                log.info("through the private CA {}", marker);
                await().atMost(Duration.ofSeconds(20)).until(() -> receiver.messages().stream().anyMatch(m -> m.contains(marker)));
            }
            assertThat(receiver.framingErrors()).isEmpty();
        }
    }

    @Test
    void whatIsQueuedAtStopIsSentWithinTheFlushTime() throws Exception {
        try (TestingSyslogReceiver receiver = TestingSyslogReceiver.tcp()) {
            String marker = UUID.randomUUID().toString();
            LogDrains drains = start("syslog://127.0.0.1:" + receiver.port(), Optional.empty(), Duration.ofMinutes(1));
            for (int i = 0; i < 50; i++) {
                log.info("before stop {} {}", i, marker);
            }
            drains.close();
            assertThat(drains.drains().getFirst().isStarted()).isFalse();
            await().atMost(Duration.ofSeconds(20)).until(() -> receiver.messages().stream().filter(m -> m.contains(marker)).count() == 50);
            log.info("after stop {}", marker);
            Thread.sleep(200);
            assertThat(receiver.messages()).noneMatch(m -> m.contains("after stop " + marker));
        }
    }
}
