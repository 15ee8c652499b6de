package dev.silo.platform.db;

import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.output.MigrateResult;

import javax.sql.DataSource;
import java.time.Duration;
import java.util.function.IntConsumer;

import static java.util.Objects.requireNonNull;

/**
 * Flyway migrations of the catalog database ({@code classpath:db/catalog}).
 *
 * <p>Two ways they run: a node migrates at start ({@code SILO_MIGRATE_AT_START=on}, the default off a platform:
 * one machine, one node), or a deployment step runs {@code silo migrate} once per release (Heroku's release
 * phase, a Kubernetes Job) and the nodes only {@linkplain #awaitCurrent check} that the catalog is at least as new
 * as the build. Flyway takes a PostgreSQL advisory lock for the run, so two migrations at once run one after the
 * other and the second finds nothing to do.
 */
public final class CatalogMigrations {
    /** The newest catalog migration in this build; VersionTest keeps it equal to the highest {@code V*.sql}. */
    public static final int LATEST_VERSION = 13;

    private CatalogMigrations() {}

    /** What a migration did: the version before (0 for an empty catalog), the version after, how many ran. */
    public record Result(int from, int to, int applied) {}

    public static Result migrate(DataSource catalog) {
        requireNonNull(catalog, "catalog is null");
        MigrateResult result = flyway(catalog).migrate();
        int from = result.initialSchemaVersion == null ? 0 : Integer.parseInt(result.initialSchemaVersion);
        int to = result.targetSchemaVersion == null ? from : Integer.parseInt(result.targetSchemaVersion);
        return new Result(from, to, result.migrationsExecuted);
    }

    /** The catalog's schema version: its newest successful migration, 0 for a catalog never migrated. */
    public static int currentVersion(DataSource catalog) {
        requireNonNull(catalog, "catalog is null");
        MigrationInfo current = flyway(catalog).info().current();
        return current == null || current.getVersion() == null ? 0 : Integer.parseInt(current.getVersion().getVersion());
    }

    /**
     * For a node that does not migrate: returns once the catalog is at {@link #LATEST_VERSION} or newer. A newer
     * catalog is not refused: it is what a rollback, or the previous release's nodes during a deploy, run on
     * (Flyway ignores migrations it does not know), so a catalog migration must keep the previous release working
     * (add tables and columns; drop them a release later). While it is older, checks every second for
     * up to {@code wait} (the release's migration may be running right now), telling {@code waiting} the version
     * found the first time; then throws {@link CatalogTooOld}. Returns the version found, with nothing applied.
     */
    public static Result awaitCurrent(DataSource catalog, Duration wait, IntConsumer waiting) throws InterruptedException {
        requireNonNull(wait, "wait is null");
        requireNonNull(waiting, "waiting is null");
        long deadline = System.nanoTime() + wait.toNanos();
        boolean told = false;
        while (true) {
            int version = currentVersion(catalog);
            if (version >= LATEST_VERSION) {
                return new Result(version, version, 0);
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new CatalogTooOld(version, wait);
            }
            if (!told) {
                waiting.accept(version);
                told = true;
            }
            Thread.sleep(Math.min(1000, Math.max(1, Duration.ofNanos(deadline - System.nanoTime()).toMillis())));
        }
    }

    /** The catalog stayed older than this build needs for the whole wait. */
    public static final class CatalogTooOld extends RuntimeException {
        private final int version;

        CatalogTooOld(int version, Duration waited) {
            super("the catalog is at schema version " + version + " and this build needs " + LATEST_VERSION
                    + " (waited " + waited.toSeconds() + " s): run `silo migrate` (Heroku runs it in the release phase), "
                    + "or set SILO_MIGRATE_AT_START=on", null, false, false);
            this.version = version;
        }

        public int version() {
            return version;
        }
    }

    private static Flyway flyway(DataSource catalog) {
        return Flyway.configure()
                .dataSource(catalog)
                .locations("classpath:db/catalog")
                .table("flyway_schema_history")
                .failOnMissingLocations(true)
                .load();
    }
}
