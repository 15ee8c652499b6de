package dev.silo.app;

import dev.silo.platform.db.CatalogMigrations;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** What this build is: release version, git commit, schema versions; read from {@code silo-build.properties}. */
public record BuildInfo(String version, String commit, boolean dirty, String postgresVersion, int catalogSchema) {
    public static BuildInfo load() {
        Properties properties = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("/silo-build.properties")) {
            if (in != null) {
                properties.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new BuildInfo(
                clean(properties.getProperty("version"), "dev"),
                clean(properties.getProperty("commit"), "unknown"),
                Boolean.parseBoolean(clean(properties.getProperty("dirty"), "false")),
                clean(properties.getProperty("postgres"), "unknown"),
                CatalogMigrations.LATEST_VERSION);
    }

    private static String clean(String value, String fallback) {
        return value == null || value.isBlank() || value.startsWith("${") ? fallback : value;
    }

    public String commitLabel() {
        return dirty ? commit + "-dirty" : commit;
    }
}
