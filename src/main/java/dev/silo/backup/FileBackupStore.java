package dev.silo.backup;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;

/**
 * A {@link BackupStore} in a local folder: each object is a file at its name's path (folders 0700, files 0600).
 *
 * <p>A put writes a temporary file beside the target ({@code .NAME.UUID.tmp}, never listed), forces it to disk,
 * renames it over the target atomically and forces the folder, so a crash leaves the old object or the new one,
 * never a part (POSIX rename semantics; the temporary files of a crashed put are removed at the next open).
 */
public final class FileBackupStore implements BackupStore {
    private static final String TEMP_SUFFIX = ".tmp";
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE_DIR =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE_FILE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final Path root;

    /** Opens (creating it, mode 0700, if needed) the store at {@code root} and removes leftovers of crashed puts. */
    public FileBackupStore(Path root) throws IOException {
        this.root = requireNonNull(root, "root is null").toAbsolutePath().normalize();
        Files.createDirectories(this.root, PRIVATE_DIR);
        try (Stream<Path> files = Files.walk(this.root)) {
            for (Path leftover : files.filter(FileBackupStore::isTemporary).toList()) {
                Files.deleteIfExists(leftover);
            }
        }
    }

    public Path root() {
        return root;
    }

    @Override
    public void put(String name, InputStream content) throws IOException {
        requireNonNull(content, "content is null");
        Path target = pathOf(name);
        Path folder = target.getParent();
        Files.createDirectories(folder, PRIVATE_DIR);
        Path temporary = folder.resolve("." + target.getFileName() + "." + UUID.randomUUID() + TEMP_SUFFIX);
        try {
            try (FileChannel channel = FileChannel.open(temporary, Set.of(StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE), PRIVATE_FILE);
                 OutputStream out = java.nio.channels.Channels.newOutputStream(channel)) {
                content.transferTo(out);
                out.flush();
                channel.force(true);
            }
            try {
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("the backup folder " + root + " does not support atomic renames", e);
            }
            forceDirectory(folder);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    @Override
    public Optional<InputStream> get(String name) throws IOException {
        try {
            return Optional.of(Files.newInputStream(pathOf(name)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        BackupStore.checkPrefix(prefix);
        List<StoredObject> objects = new ArrayList<>();
        // Writers rename temporary files into place and the retention job deletes, while this walks: an entry that
        // is gone by the time it is visited (or a directory removed under the walk) is simply not listed.
        Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attributes) {
                if (attributes.isRegularFile() && !isTemporary(file)) {
                    String name = root.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
                    if (name.startsWith(prefix) && BackupStore.NAME.matcher(name).matches()) {
                        objects.add(new StoredObject(name, attributes.size(),
                                java.util.Optional.of(attributes.lastModifiedTime().toInstant())));
                    }
                }
                return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return java.nio.file.FileVisitResult.CONTINUE; // deleted or renamed meanwhile
                }
                throw e;
            }

            @Override
            public java.nio.file.FileVisitResult postVisitDirectory(Path directory, IOException e) throws IOException {
                if (e != null && !(e instanceof NoSuchFileException)) {
                    throw e;
                }
                return java.nio.file.FileVisitResult.CONTINUE;
            }
        });
        objects.sort(Comparator.comparing(StoredObject::name));
        return objects;
    }

    @Override
    public void delete(String name) throws IOException {
        Path target = pathOf(name);
        if (Files.deleteIfExists(target)) {
            forceDirectory(target.getParent());
        }
    }

    @Override
    public String describe() {
        return root.toUri().toString();
    }

    private Path pathOf(String name) {
        Path path = root.resolve(BackupStore.checkName(name)).normalize();
        if (!path.startsWith(root) || path.equals(root)) {
            throw new IllegalArgumentException("invalid backup object name '" + name + "'");
        }
        return path;
    }

    private static boolean isTemporary(Path path) {
        String file = path.getFileName().toString();
        return file.startsWith(".") && file.endsWith(TEMP_SUFFIX);
    }

    /** Makes a rename or delete in {@code folder} durable (fsync of the directory, as PostgreSQL does). */
    private static void forceDirectory(Path folder) throws IOException {
        try (FileChannel directory = FileChannel.open(folder, StandardOpenOption.READ)) {
            directory.force(true);
        }
    }
}
