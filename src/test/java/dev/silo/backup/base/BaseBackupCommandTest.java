package dev.silo.backup.base;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.platform.http.Json;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Issue 12.2: {@code silo backups create} with no node running streams the WAL it needs itself. */
class BaseBackupCommandTest {
    @Test
    void aBackupTakenWithNoNodeRunningIsCompleteAndShownByStatus() throws Exception {
        Path dataDir = TestingSilo.newDataDir("base-backup-cli");
        TestingSilo.startNew(dataDir, Map.of()).close();

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"backups", "create", "--json", "--data-dir", dataDir.toString()}, Map.of(),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
        JsonNode created = Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(created.path("files").asInt()).isPositive();
        assertThat(created.path("stop_lsn").asText()).contains("/");

        out.reset();
        code = Main.run(new String[] {"backups", "status", "--data-dir", dataDir.toString()}, Map.of(),
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(code).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains(created.path("id").asText()).contains("restorable_from");
    }
}
