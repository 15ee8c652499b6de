package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.backup.BackupStore;
import dev.silo.backup.BackupStores;
import dev.silo.backup.wal.WalStatus;
import dev.silo.platform.db.Sql;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "backups", mixinStandardHelpOptions = true, description = "Continuous protection: the WAL streamed into the backup store.",
        subcommands = {BackupsCommand.Status.class, LogicalBackupCommands.RestoreCatalog.class})
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
