package dev.silo.metrics;

import com.zaxxer.hikari.HikariDataSource;
import dev.silo.auth.HashingGate;
import dev.silo.backup.base.BaseBackupService;
import dev.silo.backup.drill.RestoreDrills;
import dev.silo.backup.wal.WalReceiver;
import dev.silo.platform.cpu.BulkWork;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantStatus;
import dev.silo.platform.errors.ErrorReports;
import dev.silo.platform.log.drain.LogDrains;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.time.Clock;
import java.util.Optional;

/**
 * The gauges of a node's parts, read when Prometheus scrapes (README "Observability"): tenant pools, the bcrypt
 * gate, the bulk-work pool, the catalog pool (HikariCP's own meters, {@code hikaricp_*} with {@code pool="catalog"}),
 * tenants by status, the backup figures where backups run here, log drain drops and Rollbar report outcomes.
 *
 * <p>Tenant pools are never given to HikariCP's tracker: their pool names carry the tenant's slug.
 */
public final class NodeMetrics {
    private NodeMetrics() {}

    public record Parts(HikariDataSource catalog, TenantDatabases tenantDatabases, HashingGate hashingGate, BulkWork bulkWork,
                        Optional<WalReceiver> walReceiver, Optional<BaseBackupService> baseBackups,
                        Optional<RestoreDrills> drills, Clock clock, LogDrains logDrains,
                        Optional<ErrorReports> errorReports) {}

    public static void bind(MeterRegistry registry, Parts parts) {
        parts.catalog().setMetricRegistry(registry);

        TenantDatabases tenants = parts.tenantDatabases();
        gauge(registry, "silo.tenant.pools.open", "tenant connection pools open now", tenants::openPools);
        gauge(registry, "silo.tenant.connections.open", "connections open to tenant databases (budget used)",
                tenants::openConnections);
        gauge(registry, "silo.tenant.connections.idle", "open tenant connections no request holds", tenants::idleConnections);
        gauge(registry, "silo.tenant.connections.budget", "most connections open to tenant databases at once "
                + "(SILO_TENANT_CONNECTIONS)", tenants::connectionBudget);
        gauge(registry, "silo.tenant.connections.waiting", "requests waiting for a connection of their tenant",
                tenants::waitingRequests);

        HashingGate gate = parts.hashingGate();
        gauge(registry, "silo.bcrypt.running", "bcrypt computations running now", gate::running);
        gauge(registry, "silo.bcrypt.queued", "bcrypt computations waiting for a hashing thread (queue depth)", gate::waiting);
        gauge(registry, "silo.bcrypt.places.free", "logins that may still be admitted before 503 login-busy",
                gate::freePlaces);
        gauge(registry, "silo.bcrypt.threads", "hashing threads (SILO_HASHING_THREADS)", gate::threads);
        BulkWork bulk = parts.bulkWork();
        gauge(registry, "silo.bulk.work.running", "CPU-heavy bulk work (export decryption) running now", bulk::running);
        gauge(registry, "silo.bulk.work.queued", "bulk work waiting for a thread", bulk::waiting);

        TenantCounts counts = new TenantCounts(parts.catalog());
        for (TenantStatus status : TenantStatus.values()) {
            Gauge.builder("silo.tenants", () -> counts.count(status)).tag("status", status.wire())
                    .description("tenants in the catalog by status (read at most every "
                            + TenantCounts.MAX_AGE.toSeconds() + " s)")
                    .register(registry);
        }

        BackupMeters.bind(registry, parts.clock(), parts.walReceiver(), parts.baseBackups(), parts.drills());

        // Totals only: a drain's URL can hold a token (Heroku's HTTPS drains), so it is never a label.
        FunctionCounter.builder("silo.log.drain.dropped", parts.logDrains(), LogDrains::dropped)
                .description("log lines dropped by the log drains (queue full: the drain is slower than the logs)")
                .register(registry);
        // The api stream's asynchronous appender (logback.xml): lines it dropped because stdout was slower than traffic.
        if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context
                && context.getLogger("silo.api").getAppender("api") instanceof dev.silo.platform.log.DroppingAsyncAppender api) {
            FunctionCounter.builder("silo.log.api.dropped", api, dev.silo.platform.log.DroppingAsyncAppender::dropped)
                    .description("api log lines dropped on the way to stdout (the output is slower than the traffic)")
                    .register(registry);
        }
        parts.errorReports().ifPresent(reports -> {
            FunctionCounter.builder("silo.error.reports", reports, ErrorReports::delivered).tag("outcome", "delivered")
                    .description("error reports to Rollbar by outcome").register(registry);
            FunctionCounter.builder("silo.error.reports", reports, ErrorReports::failed).tag("outcome", "failed")
                    .description("error reports to Rollbar by outcome").register(registry);
            FunctionCounter.builder("silo.error.reports", reports, ErrorReports::dropped).tag("outcome", "dropped")
                    .description("error reports to Rollbar by outcome").register(registry);
        });
    }

    private static void gauge(MeterRegistry registry, String name, String description, java.util.function.IntSupplier value) {
        Gauge.builder(name, value::getAsInt).description(description).register(registry);
    }
}
