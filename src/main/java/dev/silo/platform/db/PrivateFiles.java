package dev.silo.platform.db;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The data directory belongs to Silo's user alone: what Silo creates there is mode 0700 (directories) or 0600
 * (files), and at every start nothing in it may be writable by group or others. A directory writable by another
 * local user lets that user replace what is inside, such as the PostgreSQL binaries Silo runs or the server's TLS
 * key, so such entries are repaired (made owner-only: every group and others bit removed) with a warning, and the caller
 * re-creates what can no longer be trusted.
 *
 * <p>Running as root, PostgreSQL runs in a user namespace of its own ({@code unshare -U}) where it is not root; it is
 * still the owner of these files for the kernel (the same user outside the namespace), so owner-only modes do
 * not lock it out.
 */
public final class PrivateFiles {
    private static final Logger log = LoggerFactory.getLogger(PrivateFiles.class);
    static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> PROGRAM = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> WRITABLE_BY_OTHERS = EnumSet.of(PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.OTHERS_WRITE);
    private static final Set<PosixFilePermission> GROUP_AND_OTHERS = EnumSet.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    private PrivateFiles() {}

    public static FileAttribute<Set<PosixFilePermission>> directoryMode() {
        return PosixFilePermissions.asFileAttribute(DIRECTORY);
    }

    public static FileAttribute<Set<PosixFilePermission>> fileMode() {
        return PosixFilePermissions.asFileAttribute(FILE);
    }

    /** Writes {@code content} to {@code file}, which is (created or made) mode 0600 first. */
    public static void writeString(Path file, String content) throws IOException {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            Files.createFile(file, fileMode());
        } else {
            Files.setPosixFilePermissions(file, FILE);
        }
        Files.writeString(file, content);
    }

    /** Creates {@code directory} and its missing parents with mode 0700. */
    public static Path createDirectories(Path directory) throws IOException {
        return Files.createDirectories(directory, directoryMode());
    }

    /**
     * Makes owner-only what is writable by group or others in {@code root} and everything below it (not following links, and not
     * descending into {@code skip}, whose owner checks it itself), warning for each entry repaired.
     *
     * @return the entries that were writable by group or others
     */
    public static List<Path> repairWritableByOthers(Path root, Set<Path> skip) throws IOException {
        List<Path> repaired = new ArrayList<>();
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return repaired;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path directory, BasicFileAttributes attributes) throws IOException {
                repair(directory);
                return skip.contains(directory) ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                if (!attributes.isSymbolicLink()) {
                    repair(file);
                }
                return FileVisitResult.CONTINUE;
            }

            private void repair(Path path) throws IOException {
                Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
                if (permissions.stream().anyMatch(WRITABLE_BY_OTHERS::contains)) {
                    String before = PosixFilePermissions.toString(permissions);
                    permissions.removeAll(GROUP_AND_OTHERS);
                    Files.setPosixFilePermissions(path, permissions);
                    log.warn("{} was writable by group or others ({}); repaired to {}", path, before,
                            PosixFilePermissions.toString(permissions));
                    repaired.add(path);
                }
            }
        });
        return repaired;
    }
}
