package dev.silo.app;

import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantStatus;
import org.flywaydb.core.api.MigrationVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** At start, every active tenant's schema brought up to this build's migrations. */
final class TenantSchemas {
    private static final Logger log = LoggerFactory.getLogger(TenantSchemas.class);

    private TenantSchemas() {}

    /** Tenant schemas checked at once at start: each check holds one tenant connection. */
    private static final int SCHEMA_CHECKS_AT_ONCE = 4;

    /**
     * Brings every active tenant's schema up to the migrations this build ships (tenants created before a release
     * are not re-migrated at provisioning). A full Flyway run costs hundreds of milliseconds per tenant, so only the
     * first tenant gets one (which tells the newest version this build ships); the others are checked by reading
     * their migration history, a few at once, and migrated only when behind. A tenant that fails is logged and
     * skipped: it must not keep the others down; the records service retries the migration when it meets a
     * missing table.
     */
    static void bringUpToDate(SiloCore core) {
        var active = core.tenants().list(false).stream().filter(t -> t.status() == TenantStatus.ACTIVE).toList();
        if (active.isEmpty()) {
            return;
        }
        long started = System.nanoTime();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger migrated = new AtomicInteger();
        Optional<MigrationVersion> newest = Optional.empty();
        int next = 0;
        while (newest.isEmpty() && next < active.size()) {
            Tenant tenant = active.get(next++);
            try {
                newest = Optional.of(core.tenants().migrate(tenant));
                migrated.incrementAndGet();
            } catch (RuntimeException e) {
                failed.incrementAndGet();
                log.warn("Cannot migrate the schema of tenant {}; continuing with the others: {}", tenant, e.toString());
            }
        }
        if (newest.isPresent()) {
            MigrationVersion latest = newest.get();
            ExecutorService checks = Executors.newFixedThreadPool(SCHEMA_CHECKS_AT_ONCE,
                    Thread.ofPlatform().daemon().name("silo-schema-check-", 0).factory());
            try {
                List<Future<?>> results = new ArrayList<>();
                for (Tenant tenant : active.subList(next, active.size())) {
                    results.add(checks.submit(() -> {
                        try {
                            if (core.tenants().appliedSchemaVersion(tenant).compareTo(latest) < 0) {
                                core.tenants().migrate(tenant);
                                migrated.incrementAndGet();
                            }
                        } catch (RuntimeException e) {
                            failed.incrementAndGet();
                            log.warn("Cannot migrate the schema of tenant {}; continuing with the others: {}", tenant, e.toString());
                        }
                    }));
                }
                for (Future<?> result : results) {
                    result.get();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StartupException("interrupted while checking tenant schemas");
            } catch (ExecutionException e) {
                throw new IllegalStateException(e.getCause());
            } finally {
                checks.shutdownNow();
            }
        }
        log.info("Checked the schema of {} active tenant(s) in {} ms ({} Flyway run(s), {} failed)", active.size(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), migrated.get(), failed.get());
    }
}
