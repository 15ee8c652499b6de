package dev.silo.app;

import dev.silo.audit.TenantAudit;
import dev.silo.platform.db.Sql;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * Writes checkpoints of the audit chains every {@value #PERIOD_SECONDS} seconds and once more at shutdown: the
 * platform log's head, and the head of every tenant log this node appended to since the last run. The first round
 * also covers every active tenant (entries a {@code silo} command wrote are anchored that way), but a stop does not
 * wait for that part: with thousands of tenants it is a connection to each, and a dyno has 30 s to stop. What the
 * stop cuts short is done by the next start. Every node writes its own; each checkpoint is a line in the data
 * directory's checkpoint file and on the app log stream.
 */
public final class AuditCheckpointJob implements AutoCloseable {
    static final int PERIOD_SECONDS = 60;
    private static final Logger log = LoggerFactory.getLogger(AuditCheckpointJob.class);

    private final SiloCore core;
    private final ScheduledExecutorService executor;
    private final ReentrantLock running = new ReentrantLock();
    /** The active tenants at start that the first round has still to anchor; emptied by that round. */
    private final Set<String> atStart = ConcurrentHashMap.newKeySet();
    private volatile boolean stopping;
    /** For tests: runs before each tenant log is checkpointed, on the job's thread. */
    static volatile Runnable beforeTenant = () -> {};

    private AuditCheckpointJob(SiloCore core) {
        this.core = requireNonNull(core, "core is null");
        this.executor = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("silo-audit-checkpoints").factory());
    }

    static AuditCheckpointJob start(SiloCore core) {
        AuditCheckpointJob job = new AuditCheckpointJob(core);
        job.atStart.addAll(core.tenants().list(false).stream()
                .filter(tenant -> tenant.status() == TenantStatus.ACTIVE).map(Tenant::databaseName).toList());
        job.executor.scheduleWithFixedDelay(job::run, 0, PERIOD_SECONDS, TimeUnit.SECONDS);
        return job;
    }

    /** One round of checkpoints; a failure is logged and retried at the next round. */
    public void run() {
        running.lock();
        try {
            try {
                Sql.withConnection(core.catalog(), connection -> {
                    core.audit().checkpoint(connection);
                    return null;
                });
            } catch (RuntimeException e) {
                log.warn("Cannot checkpoint the platform audit log: {}", e.toString());
            }
            Set<String> changed = core.tenantAudit().takeChanged();
            Set<String> startRound = new HashSet<>(atStart);
            atStart.clear();
            if (changed.isEmpty() && startRound.isEmpty()) {
                return;
            }
            Set<String> retry = new HashSet<>();
            List<Tenant> tenants;
            try {
                tenants = core.tenants().list(false);
            } catch (RuntimeException e) {
                core.tenantAudit().markChanged(changed);
                atStart.addAll(startRound);
                log.warn("Cannot checkpoint tenant audit logs: {}", e.toString());
                return;
            }
            int skipped = 0;
            for (Tenant tenant : tenants) {
                boolean appended = changed.contains(tenant.databaseName());
                if (!appended && !startRound.contains(tenant.databaseName()) || tenant.status() != TenantStatus.ACTIVE) {
                    continue;
                }
                if (!appended && stopping) {
                    skipped++; // only the start round's: the next start anchors it
                    continue;
                }
                beforeTenant.run();
                try {
                    core.tenantDatabases().withConnection(tenant, connection -> {
                        core.tenantAudit().checkpoint(connection, TenantAudit.logName(tenant.id()));
                        return null;
                    });
                } catch (RuntimeException e) {
                    retry.add(tenant.databaseName());
                    log.warn("Cannot checkpoint the audit log of tenant {}: {}", tenant.slug(), e.toString());
                }
            }
            core.tenantAudit().markChanged(retry);
            if (skipped > 0) {
                log.info("Stopping: {} tenant audit logs of the start round were left for the next start", skipped);
            }
        } finally {
            running.unlock();
        }
    }

    /** Stops the schedule and writes a last round, before the pools close. */
    @Override
    public void close() {
        stopping = true;
        executor.shutdownNow();
        try {
            executor.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        run();
    }
}
