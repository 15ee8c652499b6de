package dev.silo.app;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on the data directory for the life of a {@code silo serve}: a second Silo on the same
 * directory stops with a clear message instead of starting a second PostgreSQL on the same cluster. The
 * operating system releases the lock when the process dies, so a crash leaves no stale lock.
 */
final class DataDirLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private DataDirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock, or empty when another process holds it. */
    static java.util.Optional<DataDirLock> tryAcquire(Path dataDir) {
        try {
            return java.util.Optional.of(acquire(dataDir));
        } catch (StartupException e) {
            return java.util.Optional.empty();
        }
    }

    static DataDirLock acquire(Path dataDir) {
        Path file = dataDir.resolve("silo.lock");
        try {
            FileChannel channel = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE), dev.silo.platform.db.PrivateFiles.fileMode());
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                String holder = Files.readString(file).strip();
                channel.close();
                throw new StartupException("data directory " + dataDir + " is in use by another Silo"
                        + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                        + "; stop it first or choose another --data-dir");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8)));
            channel.force(false);
            return new DataDirLock(channel, lock);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock " + file, e);
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            // the lock goes with the process anyway
        }
    }
}
