package dev.silo.platform.db;

import org.flywaydb.core.Flyway;

import javax.sql.DataSource;

/** Flyway migrations of the catalog database ({@code classpath:db/catalog}). */
public final class CatalogMigrations {
    /** The newest catalog migration in this build; VersionTest keeps it equal to the highest {@code V*.sql}. */
    public static final int LATEST_VERSION = 7;

    private CatalogMigrations() {}

    public static void migrate(DataSource catalog) {
        Flyway.configure()
                .dataSource(catalog)
                .locations("classpath:db/catalog")
                .table("flyway_schema_history")
                .failOnMissingLocations(true)
                .load()
                .migrate();
    }
}
