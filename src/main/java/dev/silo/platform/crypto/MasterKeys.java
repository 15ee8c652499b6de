package dev.silo.platform.crypto;

import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.MasterKeyFormat;
import dev.silo.platform.config.SiloConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;

/**
 * Finds the master key: {@code SILO_MASTER_KEY} (or {@code SILO_MASTER_KEY_FILE}) when set; otherwise, in
 * embedded mode only, {@code <data dir>/master.key}, generated on first start with mode 0600.
 */
public final class MasterKeys {
    public static final String FILE_NAME = "master.key";
    private static final Logger log = LoggerFactory.getLogger(MasterKeys.class);

    private MasterKeys() {}

    /**
     * Whether {@code dataDir} already holds something wrapped by a master key (the embedded PostgreSQL's superuser
     * password, a cluster): then a missing key file means the key was given by the environment, not that it is new.
     */
    static boolean holdsKeyedState(Path dataDir) {
        return Files.exists(dataDir.resolve("postgres").resolve("superuser.wrapped"))
                || Files.exists(dataDir.resolve("postgres").resolve("data").resolve("PG_VERSION"));
    }

    public static Envelope load(SiloConfig config) {
        if (config.masterKey().isPresent()) {
            return Envelope.fromRawKey(MasterKeyFormat.decode("SILO_MASTER_KEY", config.masterKey().get()));
        }
        Path file = config.dataDir().resolve(FILE_NAME);
        try {
            if (Files.exists(file)) {
                return Envelope.fromRawKey(MasterKeyFormat.decode(file.toString(), Files.readString(file)));
            }
            if (holdsKeyedState(config.dataDir())) {
                // A data directory created under SILO_MASTER_KEY (or restored with it): a new key here would open
                // nothing, and would stay behind to confuse the next start.
                throw new ConfigException("SILO_MASTER_KEY", "the data directory " + config.dataDir()
                        + " was created with a master key that is not in it (no " + FILE_NAME
                        + "): set SILO_MASTER_KEY (or SILO_MASTER_KEY_FILE) to that key");
            }
            byte[] raw = new byte[MasterKeyFormat.KEY_BYTES];
            new SecureRandom().nextBytes(raw);
            Path temp = file.resolveSibling(FILE_NAME + ".tmp");
            Files.deleteIfExists(temp);
            Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(temp, MasterKeyFormat.encode(raw) + "\n", StandardOpenOption.WRITE, StandardOpenOption.SYNC);
            Files.move(temp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            log.warn("Generated a master key in {} (mode 0600). Back it up with the data directory: without it no "
                    + "tenant secret or encrypted backup can be read. In production set SILO_MASTER_KEY instead.", file);
            return Envelope.fromRawKey(raw);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the master key file " + file, e);
        }
    }
}
