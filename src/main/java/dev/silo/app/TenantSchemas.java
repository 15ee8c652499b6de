package dev.silo.app;

import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static java.util.Objects.requireNonNull;

/**
 * After start, in the background, every active tenant's schema brought up to this build's migrations (tenants
 * created before a release are not re-migrated at provisioning). The node is ready before this ends: a request to
 * a tenant not checked yet checks that tenant first ({@link dev.silo.tenant.TenantService#ensureCurrentSchema}, the
 * same per-tenant guard), so no tenant is served on an old schema and start does not grow with the tenants.
 */
final class TenantSchemas {
    private static final Logger log = LoggerFactory.getLogger(TenantSchemas.class);

    /** Tenant schemas checked at once: each check holds one tenant connection (platform threads, off the carriers). */
    private static final int SCHEMA_CHECKS_AT_ONCE = 4;

    /** For tests: runs on the background thread before any tenant is checked (a test holds the checks back with it). */
    static volatile Runnable beforeChecks = () -> {};

    private TenantSchemas() {}

    /**
     * Starts the background checks and returns at once; closing the node stops them. Each tenant is checked by
     * reading its migration history (one query) and migrated only when behind. A tenant that fails is logged and
     * skipped: it must not keep the others down; its next request retries the check.
     */
    static void startChecks(SiloCore core) {
        requireNonNull(core, "core is null");
        ExecutorService checks = Executors.newFixedThreadPool(SCHEMA_CHECKS_AT_ONCE,
                Thread.ofPlatform().daemon().name("silo-schema-check-", 0).factory());
        Thread coordinator = Thread.ofPlatform().daemon().name("silo-schema-checks").unstarted(() -> checkAll(core, checks));
        core.onClose(() -> {
            coordinator.interrupt();
            checks.shutdownNow();
        });
        coordinator.start();
    }

    private static void checkAll(SiloCore core, ExecutorService checks) {
        try {
            beforeChecks.run();
            long started = System.nanoTime();
            List<Tenant> active = core.tenants().list(false).stream().filter(t -> t.status() == TenantStatus.ACTIVE).toList();
            AtomicInteger failed = new AtomicInteger();
            AtomicInteger migrated = new AtomicInteger();
            for (Tenant tenant : active) {
                checks.execute(() -> {
                    try {
                        if (core.tenants().ensureCurrentSchema(tenant)) {
                            migrated.incrementAndGet();
                        }
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                        log.warn("Cannot migrate the schema of tenant {}; continuing with the others: {}", tenant, e.toString());
                    }
                });
            }
            checks.shutdown();
            if (checks.awaitTermination(1, TimeUnit.DAYS) && !active.isEmpty()) {
                log.info("Checked the schema of {} active tenant(s) in the background in {} ms ({} migrated, {} failed)",
                        active.size(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), migrated.get(), failed.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the node is closing
        } catch (RuntimeException e) {
            log.warn("Cannot check the tenant schemas in the background (each tenant is checked at its first request): {}",
                    e.toString());
        } finally {
            checks.shutdownNow();
        }
    }
}
