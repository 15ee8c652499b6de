package dev.silo.app;

import dev.silo.platform.db.CatalogMigrations;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

class VersionTest {
    @Test
    void versionPrintsReleaseCommitAndSchemaVersion() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"version"}, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(code).isZero();
        assertThat(text).startsWith("silo ").contains("commit:").contains("catalog schema:    " + CatalogMigrations.LATEST_VERSION)
                .contains("embedded postgres: 17.");
    }

    @Test
    void theSbomListsWhatTheJarShipsWithVersionsAndNoTestLibraries() throws Exception {
        // The CycloneDX plugin refuses to run offline (./mvnw -o): such a build has no SBOM; CI builds online.
        org.junit.jupiter.api.Assumptions.assumeFalse(Boolean.getBoolean("silo.build.offline")
                && VersionTest.class.getResource("/META-INF/sbom/bom.json") == null, "built offline: no SBOM to check");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"version", "--sbom"}, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(code).isZero();
        var bom = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.toByteArray());
        assertThat(bom.path("bomFormat").asText()).isEqualTo("CycloneDX");
        assertThat(bom.path("metadata").path("component").path("name").asText()).isEqualTo("silo");
        Map<String, String> versions = new java.util.HashMap<>();
        bom.path("components").forEach(component -> versions.put(component.path("group").asText() + ":"
                + component.path("name").asText(), component.path("version").asText()));
        assertThat(versions.get("io.helidon.webserver:helidon-webserver")).matches("\\d+\\.\\d+\\.\\d+.*");
        assertThat(versions.get("org.postgresql:postgresql")).matches("\\d+\\.\\d+\\.\\d+.*");
        assertThat(versions.get("com.google.crypto.tink:tink")).matches("\\d+\\.\\d+\\.\\d+.*");
        // The pgjdbc the tests run with is the one listed (the SBOM is the build's, not a stale file).
        assertThat(versions.get("org.postgresql:postgresql")).isEqualTo(org.postgresql.util.DriverInfo.DRIVER_VERSION);
        assertThat(versions.keySet()).noneMatch(name -> name.startsWith("org.junit") || name.contains("s3proxy")
                || name.startsWith("org.assertj"));
    }

    @Test
    void latestCatalogVersionMatchesTheNewestMigration() throws Exception {
        Pattern name = Pattern.compile("V(\\d+)__.*\\.sql");
        int newest = 0;
        try (var files = Files.list(Path.of("src/main/resources/db/catalog"))) {
            for (Path file : files.toList()) {
                Matcher matcher = name.matcher(file.getFileName().toString());
                if (matcher.matches()) {
                    newest = Math.max(newest, Integer.parseInt(matcher.group(1)));
                }
            }
        }
        assertThat(CatalogMigrations.LATEST_VERSION).isEqualTo(newest);
    }
}
