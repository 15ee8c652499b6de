package dev.silo.backup.base;

import dev.silo.platform.http.Json;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * What {@code base/<id>/manifest.json} says about one base backup: written last, so a backup without one is
 * incomplete and ignored. Serialized with {@link Json#MAPPER} (snake_case keys). Format version {@value #FORMAT}.
 *
 * @param format            {@value #FORMAT}
 * @param id                the backup id, {@code yyyyMMdd'T'HHmmss'Z'} of its start (sortable by time)
 * @param startLsn          {@code pg_backup_start}'s LSN (text form, {@code 0/5000028}): recovery begins here
 * @param stopLsn           {@code pg_backup_stop}'s LSN: the copy is consistent once WAL is replayed up to here
 * @param timeline          the timeline the backup was taken on
 * @param startTime         when {@code pg_backup_start} returned
 * @param stopTime          when {@code pg_backup_stop} returned (recovery to a time before this is impossible from it)
 * @param postgresVersion   {@code server_version}
 * @param systemIdentifier  {@code pg_control_system().system_identifier}: WAL of another cluster does not apply
 * @param databases         the databases copied, each in its own object
 * @param objects           every object of the backup except the manifest, with its plaintext SHA-256
 * @param files             every file copied, with the object that holds it
 */
public record BaseBackupManifest(int format, String id, String startLsn, String stopLsn, int timeline, Instant startTime,
                                 Instant stopTime, String postgresVersion, String systemIdentifier, List<Database> databases,
                                 List<StoredPart> objects, List<FileEntry> files) {
    public static final int FORMAT = 1;

    public BaseBackupManifest {
        requireNonNull(id, "id is null");
        requireNonNull(startLsn, "startLsn is null");
        requireNonNull(stopLsn, "stopLsn is null");
        requireNonNull(startTime, "startTime is null");
        requireNonNull(stopTime, "stopTime is null");
        databases = List.copyOf(databases);
        objects = List.copyOf(objects);
        files = List.copyOf(files);
    }

    /**
     * One database of the cluster.
     *
     * @param oid      its {@code pg_database.oid}, the directory {@code base/<oid>}
     * @param name     its {@code datname}
     * @param tenantId the tenant whose database it is (from the catalog's {@code tenants}), null for Silo's own and
     *                 PostgreSQL's databases
     * @param object   the object that holds its directory
     */
    public record Database(long oid, String name, String tenantId, String object) {}

    /**
     * One object of the backup.
     *
     * @param name   the object's name in the store
     * @param size   plaintext bytes (before the store compresses and encrypts)
     * @param sha256 hex SHA-256 of the plaintext
     * @param kind   {@code database}, {@code cluster}, {@code silo} (files of Silo's data directory) or {@code label}
     */
    public record StoredPart(String name, long size, String sha256, String kind) {}

    /**
     * One file copied.
     *
     * @param path   relative to the cluster directory ({@code base/16384/1259}), or for Silo's own files to the data
     *               directory ({@code postgres/superuser.wrapped})
     * @param size   bytes copied
     * @param sha256 hex SHA-256 of the bytes copied
     * @param object the object that holds it
     */
    public record FileEntry(String path, long size, String sha256, String object) {}

    /** Total plaintext bytes of the backup's objects. */
    public long bytes() {
        return objects.stream().mapToLong(StoredPart::size).sum();
    }

    public long startLsnValue() {
        return Lsn.parse(startLsn);
    }

    public long stopLsnValue() {
        return Lsn.parse(stopLsn);
    }

    public byte[] toJson() {
        try {
            return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(this);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize a backup manifest", e);
        }
    }

    public static BaseBackupManifest read(InputStream in) throws IOException {
        BaseBackupManifest manifest = Json.MAPPER.readValue(in, BaseBackupManifest.class);
        if (manifest.format() != FORMAT) {
            throw new IOException("backup manifest " + manifest.id() + " has format " + manifest.format()
                    + "; this Silo reads format " + FORMAT);
        }
        return manifest;
    }
}
