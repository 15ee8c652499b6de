package dev.silo.backup.logical;

import dev.silo.audit.TenantAudit;
import dev.silo.auth.Caller;
import dev.silo.auth.TenantRequests;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.tenant.TenantDatabases;
import io.helidon.http.HeaderNames;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * Customers back up their own data (claim C15): {@code GET /t/{tenant}/backups} lists the tenant's logical backups,
 * {@code GET /t/{tenant}/backups/{id}/download} streams one decrypted as NDJSON in the live export's shape. Tenant
 * admins only; every download is recorded in the tenant's audit log before it starts.
 */
public final class TenantBackupRoutes {
    private static final Logger log = LoggerFactory.getLogger(TenantBackupRoutes.class);

    private final TenantRequests requests;
    private final LogicalBackups backups;
    private final TenantDatabases databases;
    private final TenantAudit audit;

    public TenantBackupRoutes(TenantRequests requests, LogicalBackups backups, TenantDatabases databases, TenantAudit audit) {
        this.requests = requireNonNull(requests, "requests is null");
        this.backups = requireNonNull(backups, "backups is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.audit = requireNonNull(audit, "audit is null");
    }

    public void register(Routes routes) {
        routes.get("/t/{tenant}/backups", (request, response) -> {
            Caller caller = requests.admin(request);
            var list = backups.tenantBackups().list(caller.tenant()).reversed().stream().map(TenantBackups.BackupInfo::view).toList();
            Json.ok(response, Map.of("backups", list));
        });
        routes.get("/t/{tenant}/backups/{id}/download", (request, response) -> {
            Caller caller = requests.admin(request);
            String id = request.path().pathParameters().get("id");
            // Checks the backup exists and opens with the tenant's key before anything is sent or audited.
            backups.onDownloadPool(() -> {
                backups.tenantBackups().open(caller.tenant(), id).close();
                return null;
            });
            databases.inTransaction(caller.tenant(), connection -> {
                audit.append(connection, caller.audit(), "backup.download", id, Map.of());
                return null;
            });
            response.header(HeaderNames.CONTENT_TYPE, "application/x-ndjson");
            response.header("Content-Disposition", "attachment; filename=\"" + caller.tenant().slug() + "-backup-" + id + ".ndjson\"");
            try (OutputStream out = new BufferedOutputStream(response.outputStream(), 64 * 1024)) {
                backups.onDownloadPool(() -> {
                    backups.tenantBackups().download(caller.tenant(), id, out);
                    return null;
                });
            } catch (IOException e) {
                // the status is sent; the stream ends without its "end" line, which tells the client it is incomplete
                log.warn("Download of backup {} of tenant {} stopped: {}", id, caller.tenant(), e.toString());
            }
        });
    }
}
