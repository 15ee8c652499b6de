package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import dev.silo.backup.BackupStores;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.backup.logical.CatalogSnapshots;
import dev.silo.backup.logical.TenantBackups;
import dev.silo.backup.logical.TenantRestores;
import dev.silo.platform.jobs.Jobs;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.crypto.MasterKeys;
import dev.silo.platform.problem.BadRequest;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantService;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * The backup commands of one tenant: {@code silo tenants backups|backup|restore-backup|restore-to}, and
 * {@code silo backups restore-catalog}.
 */
final class LogicalBackupCommands {
    private LogicalBackupCommands() {}

    private static TenantBackups tenantBackups(SiloCore silo, EncryptedBackupStore store) {
        return new TenantBackups(silo.catalog(), silo.tenants(), silo.placements(), silo.envelope(), store, silo.audit(),
                silo.tenantAudit(), Clock.systemUTC(), silo.config().tuning().backupRetentionDays());
    }

    abstract static class BackupCommand extends TenantsCommand.SlugCommand {
        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            try (EncryptedBackupStore store = BackupStores.open(silo.config(), silo.envelope())) {
                return run(silo, tenantBackups(silo, store), actor);
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
        }

        abstract int run(SiloCore silo, TenantBackups backups, Actor actor) throws IOException;
    }

    @Command(name = "backups", mixinStandardHelpOptions = true,
            description = "List a tenant's daily logical backups (encrypted under the tenant's own keyset), newest first.")
    static final class ListBackups extends BackupCommand {
        @Override
        int run(SiloCore silo, TenantBackups backups, Actor actor) throws IOException {
            List<Map<String, ?>> rows = backups.list(backups.find(slug)).reversed().stream()
                    .<Map<String, ?>>map(TenantBackups.BackupInfo::view).toList();
            if (core.json) {
                Output.json(TenantsCommand.out, rows);
            } else {
                Output.table(TenantsCommand.out, List.of("id", "taken_at", "schema_version", "stored_bytes"), rows);
            }
            return 0;
        }
    }

    @Command(name = "backup", mixinStandardHelpOptions = true,
            description = "Take a logical backup of a tenant now (the server also takes one every SILO_TENANT_BACKUP_HOURS).")
    static final class TakeBackup extends BackupCommand {
        @Override
        int run(SiloCore silo, TenantBackups backups, Actor actor) throws IOException {
            TenantBackups.BackupInfo info = backups.take(backups.find(slug));
            if (core.json) {
                Output.json(TenantsCommand.out, info.view());
            } else {
                TenantsCommand.out.println("backed up tenant " + slug + " as backup " + info.id() + " (" + info.storedBytes()
                        + " bytes stored)");
            }
            return 0;
        }
    }

    private static TenantRestores restores(SiloCore silo, TenantBackups backups, Jobs jobs) {
        boolean physical = silo.config().embedded() && silo.config().tuning().backupStreaming();
        return new TenantRestores(silo.catalog(), silo.tenants(), silo.placements(), silo.envelope(), backups, jobs,
                silo.audit(), silo.tenantAudit(), silo.config().dataDir().resolve("scratch"), physical, Clock.systemUTC());
    }

    /** Runs a restore in this process, its progress on stderr, and prints the outcome. */
    private static int runRestore(SiloCore silo, TenantBackups backups, String slug, TenantRestores.Request request,
                                  Actor actor, boolean json) throws IOException {
        try (Jobs jobs = new Jobs(silo.catalog())) {
            TenantRestores restores = restores(silo, backups, jobs);
            TenantRestores.Prepared prepared = restores.prepare(slug, request, actor);
            System.err.println("restore job " + prepared.jobId() + " (also shown by GET /admin/jobs/" + prepared.jobId() + ")");
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("job", prepared.jobId().toString());
            result.putAll(restores.run(prepared, line -> System.err.println("  " + line)));
            if (json) {
                Output.json(TenantsCommand.out, result);
            } else {
                Output.keyValues(TenantsCommand.out, result);
            }
            return 0;
        }
    }

    @Command(name = "restore-backup", mixinStandardHelpOptions = true,
            description = {"Restore one logical backup of a tenant, in place or (with --as) into a NEW tenant.",
                    "In place: the tenant as it is now is saved first as a backup (`restore-to SLUG --undo` brings it back), "
                            + "its routes answer 503 tenant-restoring for the swap, and one transaction replaces its data; "
                            + "role, secret and keys stay, its audit log is kept. The backup must be at the tenant's schema "
                            + "version (an older one: use --as).",
                    "With --as: a new tenant (new role, password, secret and keys; encrypted fields re-sealed for it), its "
                            + "schema migrated forward if the backup is older; the original is not touched; sessions are "
                            + "not copied. A purged tenant is refused: its keys are destroyed."})
    static final class RestoreBackup extends BackupCommand {
        @Option(names = "--backup", required = true, paramLabel = "ID", description = "the backup's id (see `silo tenants backups SLUG`)")
        String backup;

        @Option(names = "--as", paramLabel = "NEW_SLUG", description = "restore into a new tenant with this slug instead of in place")
        String as;

        @Override
        int run(SiloCore silo, TenantBackups backups, Actor actor) throws IOException {
            return runRestore(silo, backups, slug, new TenantRestores.Request(Optional.empty(), Optional.of(backup),
                    Optional.ofNullable(as), false), actor, core.json);
        }
    }

    @Command(name = "restore-to", mixinStandardHelpOptions = true,
            description = {"Restore one tenant to a point in time of the restorable window, while every other tenant keeps "
                    + "working: a scratch copy is recovered to exactly TIME from the base backups and WAL, reading only the "
                    + "files this tenant's database needs.",
                    "In place (default): the tenant as it is now is saved first as a backup, its routes answer 503 "
                            + "tenant-restoring for the swap, and one transaction replaces its data; role, secret and keys "
                            + "stay (tokens whose session existed at TIME keep working), its audit log is kept and records "
                            + "the restore. --undo brings back the data the last in-place restore replaced.",
                    "With --as NEW_SLUG: a new tenant holding the data as of TIME (new role, secret and keys; encrypted "
                            + "fields re-sealed); the original keeps running untouched.",
                    "Needs the embedded PostgreSQL with WAL streaming to the backup store (see `silo backups status`); a "
                            + "tenant on an external placement has its daily logical backups instead (restore-backup)."})
    static final class RestoreTo extends BackupCommand {
        @Option(names = "--time", paramLabel = "TIME", description = "an ISO-8601 instant such as 2026-12-02T14:01:00Z")
        String time;

        @Option(names = "--as", paramLabel = "NEW_SLUG", description = "restore into a new tenant with this slug instead of in place")
        String as;

        @Option(names = "--undo", description = "bring back the data the tenant's last in-place restore replaced")
        boolean undo;

        @Override
        int run(SiloCore silo, TenantBackups backups, Actor actor) throws IOException {
            if (undo == (time != null)) {
                throw new BadRequest("invalid-restore", "give either --time TIME or --undo");
            }
            Optional<Instant> at;
            try {
                at = Optional.ofNullable(time).map(Instant::parse);
            } catch (DateTimeParseException e) {
                throw new BadRequest("invalid-time", "--time expects an ISO-8601 instant such as 2026-12-02T14:01:00Z");
            }
            return runRestore(silo, backups, slug, new TenantRestores.Request(at, Optional.empty(), Optional.ofNullable(as),
                    undo), actor, core.json);
        }
    }

    @Command(name = "restore-catalog", mixinStandardHelpOptions = true,
            description = {"Restore a catalog snapshot from a backup store into an EMPTY database (external mode's way back "
                    + "after losing the catalog server).",
                    "The master key is SILO_MASTER_KEY (or SILO_MASTER_KEY_FILE, or master.key in --data-dir): the one the "
                            + "store was written under. Then point SILO_DATABASE_URL at the restored database."})
    static final class RestoreCatalog implements Callable<Integer> {
        @Option(names = "--from", required = true, paramLabel = "BACKUP_URL", description = "the backup store: file:///path or s3://bucket/prefix")
        String from;

        @Option(names = "--to", required = true, paramLabel = "DATABASE_URL", description = "postgres://... of an empty database")
        String to;

        @Option(names = "--at", paramLabel = "TIME", description = "the newest snapshot at or before this ISO-8601 instant (default: the newest)")
        String at;

        @Option(names = "--data-dir", paramLabel = "DIR", description = "where master.key is, if SILO_MASTER_KEY is not set")
        String dataDir;

        @Option(names = "--json", description = "print JSON instead of text")
        boolean json;

        @Override
        public Integer call() throws IOException {
            Optional<Instant> time;
            try {
                time = Optional.ofNullable(at).map(Instant::parse);
            } catch (DateTimeParseException e) {
                throw new BadRequest("invalid-time", "--at expects an ISO-8601 instant such as 2026-12-02T14:05:00Z");
            }
            Map<String, String> env = new HashMap<>(BackupsCommand.env);
            env.put("SILO_BACKUP_URL", from);
            env.remove("SILO_DATABASE_URL");
            env.remove("DATABASE_URL");
            SiloConfig config = SiloConfig.resolve(new SiloConfig.Flags("0", dataDir, null, null), env);
            DatabaseUrl target;
            try {
                target = DatabaseUrl.parse("--to", to);
            } catch (ConfigException e) {
                throw new BadRequest("invalid-database-url", e.getMessage());
            }
            if (config.masterKey().isEmpty() && !Files.exists(config.dataDir().resolve(MasterKeys.FILE_NAME))) {
                throw new BadRequest("master-key-required", "set SILO_MASTER_KEY to the master key the backup store was "
                        + "written under (or --data-dir to a data directory holding it)");
            }
            Envelope envelope = MasterKeys.load(config);
            try (EncryptedBackupStore store = BackupStores.open(config, envelope)) {
                CatalogSnapshots.Restored restored = CatalogSnapshots.restore(store, target, time);
                Map<String, Object> view = new LinkedHashMap<>();
                view.put("snapshot", restored.snapshot());
                view.put("taken_at", restored.takenAt());
                view.put("schema_version", restored.schemaVersion());
                view.put("rows", restored.rows());
                view.put("target", target.toString());
                if (json) {
                    Output.json(BackupsCommand.out, view);
                } else {
                    Output.keyValues(BackupsCommand.out, view);
                }
                return 0;
            }
        }
    }
}
