package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.backup.BackupStore;
import dev.silo.backup.BackupStores;
import dev.silo.audit.Actor;
import dev.silo.backup.base.BaseBackup;
import dev.silo.backup.base.BaseBackupManifest;
import dev.silo.backup.base.BaseBackupService;
import dev.silo.backup.base.BaseBackups;
import dev.silo.backup.wal.WalReceiver;
import dev.silo.backup.wal.WalSegments;
import dev.silo.backup.wal.WalStatus;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.db.Sql;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "backups", mixinStandardHelpOptions = true,
        description = "Continuous protection: the WAL streamed into the backup store, base backups, restore drills and catalog snapshots.",
        subcommands = {BackupsCommand.Status.class, BackupsCommand.Create.class, BackupsVerify.class,
                LogicalBackupCommands.RestoreCatalog.class})
public final class BackupsCommand {
    static Map<String, String> env;
    static PrintStream out;

    public BackupsCommand(Map<String, String> env, PrintStream out) {
        BackupsCommand.env = env;
        BackupsCommand.out = out;
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = {"Whether the WAL receiver of a running node is connected to its slot, the lag between the server's "
                    + "flush position and the store, and what the store holds.",
                    "Without a running node: the receiver is not running, and the slot keeps the WAL until it is."})
    static final class Status implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                Map<String, Object> view = new LinkedHashMap<>();
                if (silo.embedded().isEmpty()) {
                    view.put("mode", "external");
                    view.put("detail", "Silo does not host this PostgreSQL, so it cannot stream its WAL: use the provider's "
                            + "own continuous protection");
                    view.put("physical_backups", dev.silo.backup.wal.WalRoutes.EXTERNAL_PHYSICAL);
                } else {
                    view.put("mode", "embedded");
                    try (BackupStore store = BackupStores.open(silo.config(), silo.envelope())) {
                        view.putAll(Sql.withConnection(silo.catalog(), connection -> {
                            try {
                                return WalStatus.slot(connection, store);
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        }));
                        view.put("receiver", Boolean.TRUE.equals(view.get("receiver_connected")) ? "streaming" : "not running");
                        Map<String, Object> stored = WalStatus.store(store);
                        stored.forEach((key, value) -> view.put("store_" + key, value));
                        Map<String, Object> base = BaseBackups.status(store);
                        if (core.json) {
                            view.put("base_backups", base);
                        } else {
                            view.put("base_backups", base.get("count"));
                            @SuppressWarnings("unchecked")
                            Map<String, Object> last = (Map<String, Object>) base.get("last");
                            view.put("last_base_backup", last == null ? null
                                    : last.get("id") + " (" + last.get("stop_time") + ", " + last.get("bytes") + " bytes)");
                            @SuppressWarnings("unchecked")
                            Map<String, Object> window = (Map<String, Object>) base.get("restorable");
                            view.put("restorable_from", window.get("oldest"));
                            view.put("restorable_to_lsn", window.get("newest_lsn"));
                        }
                        var drill = Sql.withConnection(silo.catalog(), dev.silo.backup.drill.RestoreDrills::readLast);
                        if (core.json) {
                            view.put("last_drill", drill.orElse(null));
                        } else {
                            view.put("last_drill", drill.map(d -> d.get("id") + " " + d.get("outcome") + " (" + d.get("at")
                                    + ", " + d.get("duration_ms") + " ms, backup " + d.get("backup_id") + ")"
                                    + (d.get("reason") == null ? "" : ": " + d.get("reason"))).orElse(null));
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read the backup store", e);
                    }
                }
                view.putAll(catalogSnapshots(silo));
                if (core.json) {
                    Output.json(out, view);
                } else {
                    Output.keyValues(out, view);
                }
                return 0;
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = {"Take a base backup now, without stopping anything: every database and the cluster files, "
                    + "compressed and encrypted into the backup store, complete once the store's WAL reaches its end.",
                    "Progress (files, bytes) goes to stderr; the result to stdout. Exit 1 if a base backup is already running."})
    static final class Create implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Override
        public Integer call() throws IOException {
            try (SiloCore silo = core.open(env)) {
                if (silo.embedded().isEmpty()) {
                    throw new Conflict("backups-external", "Silo does not host this PostgreSQL, so it cannot take base "
                            + "backups of it: use the provider's own continuous protection");
                }
                EmbeddedPostgresServer server = silo.embedded().get();
                PrintStream err = System.err;
                try (BackupStore store = BackupStores.open(silo.config(), silo.envelope())) {
                    // No node runs (this command started PostgreSQL): stream the WAL for the backup here, from the slot.
                    WalReceiver receiver = server.postmaster().isPresent()
                            ? WalReceiver.start(() -> server.adminUrl("postgres"), store, java.time.Clock.systemUTC()) : null;
                    try (BaseBackupService service = new BaseBackupService(() -> server.adminUrl(SiloCore.CATALOG_DATABASE),
                            silo.catalog(), silo.audit(), silo.config().dataDir(), server.clusterDirectory(), store,
                            () -> WalSegments.read(store).end(), silo.clock(), BaseBackupService.DEFAULT_WAL_WAIT)) {
                        long[] lastPrint = {0};
                        BaseBackup.Progress progress = (files, bytes, object) -> {
                            long now = System.nanoTime();
                            if (now - lastPrint[0] > 1_000_000_000L) {
                                lastPrint[0] = now;
                                err.println("copied " + files + " files, " + bytes / (1024 * 1024) + " MiB (" + object + ")");
                            }
                        };
                        BaseBackupManifest manifest = service.runNow(Actor.cli(), progress);
                        Map<String, Object> view = new LinkedHashMap<>();
                        view.put("id", manifest.id());
                        view.put("files", manifest.files().size());
                        view.put("bytes", manifest.bytes());
                        view.put("databases", manifest.databases().size());
                        view.put("start_lsn", manifest.startLsn());
                        view.put("stop_lsn", manifest.stopLsn());
                        view.put("timeline", manifest.timeline());
                        view.put("start_time", manifest.startTime());
                        view.put("stop_time", manifest.stopTime());
                        view.put("store", store.describe());
                        if (core.json) {
                            Output.json(out, view);
                        } else {
                            Output.keyValues(out, view);
                        }
                        return 0;
                    } finally {
                        if (receiver != null) {
                            receiver.close();
                        }
                    }
                }
            }
        }
    }

    /** The catalog snapshot lines (dev.silo.backup.logical), in both modes. */
    private static Map<String, Object> catalogSnapshots(SiloCore silo) {
        Map<String, Object> view = new LinkedHashMap<>();
        try (BackupStore store = BackupStores.open(silo.config(), silo.envelope())) {
            Map<String, Object> status = dev.silo.backup.logical.CatalogSnapshots.status(store);
            view.put("catalog_snapshots", status.get("count"));
            Object last = status.get("last");
            view.put("catalog_snapshot_last", last instanceof Map<?, ?> map ? map.get("taken_at") : null);
        } catch (IOException e) {
            view.put("catalog_snapshots", "cannot list the backup store: " + e.getMessage());
        }
        return view;
    }
}
