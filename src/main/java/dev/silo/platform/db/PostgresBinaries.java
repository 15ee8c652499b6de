package dev.silo.platform.db;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import io.zonky.test.db.postgres.util.LinuxUtils;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * The PostgreSQL binaries shipped in the zonky binaries artifact, unpacked under the data directory.
 *
 * <p>Silo unpacks them itself, in the {@code PG-<md5>} folder layout zonky uses, because it runs
 * {@code initdb} itself: zonky's builder can pass only {@code --key=value} options to initdb, and data
 * checksums ({@code --data-checksums}) take no value. Directories are 0700, files 0600, programs 0700.
 */
public final class PostgresBinaries {
    private final Path home;

    private PostgresBinaries(Path home) {
        this.home = home;
    }

    /** Unpacks the binaries into {@code workingDirectory} unless already there. */
    public static PostgresBinaries prepare(Path workingDirectory) {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        if (!os.contains("linux")) {
            throw new IllegalStateException("the embedded PostgreSQL of this build supports Linux only; "
                    + "on " + System.getProperty("os.name") + " set SILO_DATABASE_URL to an external PostgreSQL");
        }
        String arch = "amd64".equals(System.getProperty("os.arch")) ? "x86_64" : System.getProperty("os.arch");
        try (InputStream stream = DefaultPostgresBinaryResolver.INSTANCE.getPgBinary("Linux", arch)) {
            if (stream == null) {
                throw new IllegalStateException("no embedded PostgreSQL binaries for Linux " + arch + " in this build");
            }
            byte[] archive = stream.readAllBytes();
            String digest = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(archive));
            Path home = workingDirectory.resolve("PG-" + digest);
            if (!Files.exists(home.resolve(".exists"))) {
                Path partial = workingDirectory.resolve("PG-" + digest + ".partial");
                deleteRecursively(partial);
                PrivateFiles.createDirectories(partial);
                extract(archive, partial);
                deleteRecursively(home);
                Files.move(partial, home);
                Files.createFile(home.resolve(".exists"), PrivateFiles.fileMode());
            }
            return new PostgresBinaries(home);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack the embedded PostgreSQL into " + workingDirectory, e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Deletes every unpacked copy in {@code workingDirectory}, for binaries that can no longer be trusted (their
     * directory was writable by another user); the next {@link #prepare} unpacks them again from the archive.
     */
    public static void discard(Path workingDirectory) throws IOException {
        if (!Files.isDirectory(workingDirectory)) {
            return;
        }
        try (var entries = Files.list(workingDirectory)) {
            for (Path entry : entries.filter(p -> p.getFileName().toString().startsWith("PG-")).toList()) {
                deleteRecursively(entry);
            }
        }
    }

    public Path home() {
        return home;
    }

    /**
     * The command line for a PostgreSQL program. initdb, pg_ctl and postgres refuse to run as root; as root
     * they run in a new user namespace ({@code unshare -U}), where they are not root, as zonky does.
     */
    public List<String> command(String program, String... args) {
        List<String> command = new ArrayList<>();
        if (LinuxUtils.isUnshareAvailable()) {
            command.add("unshare");
            command.add("-U");
        }
        command.add(home.resolve("bin").resolve(program).toString());
        command.addAll(List.of(args));
        return command;
    }

    private static void extract(byte[] archive, Path target) throws IOException {
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new XZInputStream(new ByteArrayInputStream(archive)))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path path = target.resolve(entry.getName()).normalize();
                if (!path.startsWith(target)) {
                    throw new IOException("archive entry outside the target: " + entry.getName());
                }
                // Owner only: another local user must not be able to change what Silo runs.
                if (entry.isDirectory()) {
                    PrivateFiles.createDirectories(path);
                } else if (entry.isSymbolicLink()) {
                    PrivateFiles.createDirectories(path.getParent());
                    Files.createSymbolicLink(path, Path.of(entry.getLinkName()));
                } else if (entry.isLink()) {
                    PrivateFiles.createDirectories(path.getParent());
                    Files.createLink(path, target.resolve(entry.getLinkName()));
                } else {
                    PrivateFiles.createDirectories(path.getParent());
                    Files.copy(tar, path);
                    boolean program = entry.getName().startsWith("bin/") || entry.getName().startsWith("./bin/");
                    Files.setPosixFilePermissions(path, program ? PrivateFiles.PROGRAM : PrivateFiles.FILE);
                }
            }
        }
    }

    static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(path)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
