package dev.silo.app;

import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Claim C17: a database outage is detected (readiness 503) and the node recovers by itself when it is back. */
class DatabaseOutageTest {
    @Test
    void readinessTurns503WhileTheCatalogIsDownAndRecoversWhenItComesBack() throws Exception {
        try (Silo silo = TestingSilo.startNew(TestingSilo.newDataDir("outage"), Map.of())) {
            TestingHttp http = new TestingHttp(silo.baseUri());
            assertThat(http.get("/health/ready").status()).isEqualTo(200);
            EmbeddedPostgresServer postgres = silo.embedded().orElseThrow();
            Path cluster = postgres.clusterDirectory();
            pgCtl(postgres, "stop", "-D", cluster.toString(), "-m", "fast", "-w");

            var down = http.get("/health/ready");
            assertThat(down.status()).isEqualTo(503);
            assertThat(down.contentType()).isEqualTo("application/problem+json");
            assertThat(down.json().get("type").asText()).endsWith("/not-ready");
            assertThat(down.header("Retry-After")).isNotNull();
            assertThat(http.get("/health/live").status()).isEqualTo(200);

            pgCtl(postgres, "start", "-D", cluster.toString(), "-w", "-o", "-p " + postgres.port(),
                    "-l", cluster.resolveSibling("restart.log").toString());
            await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/health/ready").status() == 200);
        }
    }

    private static void pgCtl(EmbeddedPostgresServer postgres, String... args) throws Exception {
        Process process = new ProcessBuilder(postgres.binaries().command("pg_ctl", args)).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
    }
}
