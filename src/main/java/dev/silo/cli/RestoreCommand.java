package dev.silo.cli;

import dev.silo.backup.BackupStore;
import dev.silo.backup.BackupStores;
import dev.silo.backup.EncryptedBackupStore;
import dev.silo.backup.restore.RestoreEngine;
import dev.silo.backup.restore.RestoreException;
import dev.silo.platform.config.BackupUrl;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.MasterKeyFormat;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.PrivateFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "restore", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Disaster recovery: rebuild a whole Silo (catalog, every tenant, keys, users, records) in an empty "
                + "directory from the backup store and the master key alone.",
                "",
                "Takes the newest complete base backup (ending before --to-time), verifies every object, replays the WAL "
                + "from the store up to --to-time or its end, promotes the copy to a new timeline and stops it. Then: "
                + "silo serve --data-dir NEW_DIR (with the same SILO_MASTER_KEY).",
                "The master key comes from SILO_MASTER_KEY or SILO_MASTER_KEY_FILE, as for silo serve. The restored copy "
                + "writes its backups under a new prefix, <--from>/restored-<time>, never into the store it came from.",
                "Progress on stderr; the summary on stdout. On any failure NEW_DIR is removed and the exit status is 1; "
                + "it is 2 when --to-time is after the end of the WAL in the store (checked before anything is restored "
                + "when the store says when its newest WAL was stored)."})
public final class RestoreCommand implements Callable<Integer> {
    private static final DateTimeFormatter PREFIX_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private final Map<String, String> env;
    private final PrintStream out;

    @Option(names = "--from", required = true, paramLabel = "BACKUP_URL",
            description = "the backup store: file:///path or s3://bucket/prefix (SILO_BACKUP_S3_ENDPOINT, SILO_BACKUP_S3_REGION apply)")
    String from;

    @Option(names = "--to-time", paramLabel = "T", description = "recover to this instant, such as 2026-12-02T15:44:00Z (default: the end of the WAL)")
    String toTime;

    @Option(names = "--backup", paramLabel = "ID", description = "use this base backup (default: the newest that ends before T)")
    String backupId;

    @Option(names = "--data-dir", required = true, paramLabel = "NEW_DIR", description = "an empty or new directory for the restored Silo")
    String dataDir;

    @Option(names = "--port", paramLabel = "PORT", description = "the scratch port PostgreSQL recovers on (default: a free one)")
    int port;

    @Option(names = "--json", description = "print the summary as JSON")
    boolean json;

    public RestoreCommand(Map<String, String> env, PrintStream out) {
        this.env = env;
        this.out = out;
    }

    @Override
    public Integer call() throws IOException {
        PrintStream err = System.err;
        SiloConfig config = SiloConfig.resolve(new SiloConfig.Flags("0", dataDir, null, null), withoutBackupUrl(env));
        if (config.masterKey().isEmpty()) {
            throw new ConfigException("SILO_MASTER_KEY", "silo restore needs the master key the backups were written under "
                    + "(set SILO_MASTER_KEY or SILO_MASTER_KEY_FILE)");
        }
        Envelope envelope = Envelope.fromRawKey(MasterKeyFormat.decode("SILO_MASTER_KEY", config.masterKey().get()));
        Optional<Instant> target;
        try {
            target = Optional.ofNullable(toTime).map(Instant::parse);
        } catch (DateTimeParseException e) {
            throw new ConfigException("--to-time", "expected an ISO-8601 instant such as 2026-12-02T15:44:00Z, got '" + toTime + "'");
        }
        Map<String, String> storeEnv = new HashMap<>(env);
        storeEnv.put(BackupUrl.SETTING, from);
        BackupUrl url = BackupUrl.resolve(storeEnv, config.dataDir());
        Path newDir = config.dataDir();
        RestoreEngine.Recovered recovered;
        try (BackupStore store = BackupStores.open(url, envelope)) {
            err.println("restoring from " + store.describe() + " into " + newDir);
            recovered = RestoreEngine.start(new RestoreEngine.Request(store, envelope, newDir, target,
                    Optional.ofNullable(backupId), port, err::println));
        } catch (EncryptedBackupStore.WrongMasterKeyException e) {
            err.println("silo: " + e.getMessage());
            return 1;
        } catch (RestoreException e) {
            err.println("silo: " + e.getMessage() + (Files.exists(newDir) ? "" : " (" + newDir + " removed)"));
            // A target the store cannot reach is a usage error, like a bad option.
            return e instanceof RestoreException.TargetAfterWal ? 2 : 1;
        }
        try {
            recovered.stop();
            String next = from.replaceAll("/+$", "") + "/restored-" + PREFIX_TIME.format(Instant.now());
            PrivateFiles.writeString(newDir.resolve(BackupUrl.POINTER_FILE), next + "\n");
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("data_dir", newDir.toString());
            view.put("base_backup", recovered.backup().id());
            view.put("recovered_to_lsn", recovered.recoveredLsn());
            view.put("last_transaction", recovered.lastTransaction());
            view.put("timeline", recovered.timeline());
            view.put("backups_now_go_to", next);
            view.put("next", "silo serve --data-dir " + newDir + " (with the same SILO_MASTER_KEY)");
            if (json) {
                Output.json(out, view);
            } else {
                Output.keyValues(out, view);
            }
            return 0;
        } catch (IOException | RuntimeException e) {
            deleteTree(newDir);
            err.println("silo: the restored copy could not be finished: " + e.getMessage() + " (" + newDir + " removed)");
            return 1;
        }
    }

    /** The store of the copy is decided here, not by an inherited SILO_BACKUP_URL. */
    private static Map<String, String> withoutBackupUrl(Map<String, String> env) {
        Map<String, String> copy = new HashMap<>(env);
        copy.remove(BackupUrl.SETTING);
        return copy;
    }

    private static void deleteTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            for (Path path : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException | RuntimeException ignored) {
            // best effort
        }
    }
}
