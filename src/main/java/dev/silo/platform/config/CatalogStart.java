package dev.silo.platform.config;

import java.time.Duration;

import static java.util.Objects.requireNonNull;

/**
 * How a node with an external catalog treats the catalog's schema at start.
 *
 * <p>{@code migrateAtStart} ({@code SILO_MIGRATE_AT_START}, on/off): on, the node runs the catalog migrations
 * itself, which suits one node. Off (the default where {@code DYNO} is set: Heroku runs {@code silo migrate} in the
 * release phase, once per release, before any dyno of the release starts), the node only checks the version and,
 * while the catalog is older than the build, waits up to {@code maxWait} ({@code SILO_CATALOG_WAIT_SECONDS}, 20) for a
 * migration running elsewhere before it refuses to start. 20 s leaves a Heroku dyno time to bind its port within the
 * router's 60 s boot limit. The embedded mode always migrates at start: its node owns the database.
 */
public record CatalogStart(boolean migrateAtStart, Duration maxWait) {
    public CatalogStart {
        requireNonNull(maxWait, "maxWait is null");
        if (maxWait.isNegative()) {
            throw new IllegalArgumentException("maxWait is negative: " + maxWait);
        }
    }
}
