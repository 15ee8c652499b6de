package dev.silo.platform.crypto;

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

    public static Envelope load(SiloConfig config) {
        if (config.masterKey().isPresent()) {
            return Envelope.fromRawKey(MasterKeyFormat.decode("SILO_MASTER_KEY", config.masterKey().get()));
        }
        Path file = config.dataDir().resolve(FILE_NAME);
        try {
            if (Files.exists(file)) {
                return Envelope.fromRawKey(MasterKeyFormat.decode(file.toString(), Files.readString(file)));
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
