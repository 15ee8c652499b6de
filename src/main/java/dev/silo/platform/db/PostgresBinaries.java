package dev.silo.platform.db;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;

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

    /** What {@code .source} in an unpacked copy says it came from: the archive's CRC-32 and size in the jar. */
    private static final String SOURCE = ".source";

    /**
     * Unpacks the binaries into {@code workingDirectory} unless already there. A copy unpacked before is found by the
     * archive's CRC-32 and size in the jar's directory (its {@code .source}), so a start on an existing data directory
     * neither reads nor hashes the 15 MB archive; a copy without {@code .source} (an older Silo's) is checked by its MD5,
     * as it was named, once.
     */
    public static PostgresBinaries prepare(Path workingDirectory) {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        if (!os.contains("linux")) {
            throw new IllegalStateException("the embedded PostgreSQL of this build supports Linux only; "
                    + "on " + System.getProperty("os.name") + " set SILO_DATABASE_URL to an external PostgreSQL");
        }
        String arch = "amd64".equals(System.getProperty("os.arch")) ? "x86_64" : System.getProperty("os.arch");
        // The name zonky's resolver looks for (its distribution-specific archives are not in this build).
        URL resource = PostgresBinaries.class.getClassLoader().getResource("postgres-linux-" + arch + ".txz");
        if (resource == null) {
            throw new IllegalStateException("no embedded PostgreSQL binaries for Linux " + arch + " in this build");
        }
        try {
            Optional<String> source = sourceOf(resource);
            if (source.isPresent()) {
                Optional<Path> unpacked = unpackedFrom(workingDirectory, source.get());
                if (unpacked.isPresent()) {
                    return new PostgresBinaries(unpacked.get());
                }
            }
            byte[] archive;
            java.net.URLConnection connection = resource.openConnection();
            connection.setUseCaches(false); // closing the stream closes the jar file too
            try (InputStream stream = connection.getInputStream()) {
                archive = stream.readAllBytes();
            }
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
            if (source.isPresent()) {
                PrivateFiles.writeString(home.resolve(SOURCE), source.get());
            }
            return new PostgresBinaries(home);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack the embedded PostgreSQL into " + workingDirectory, e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The archive's CRC-32 and size from the jar's directory (nothing is read); empty when it is not in a jar. */
    private static Optional<String> sourceOf(URL resource) {
        try {
            if (resource.openConnection() instanceof JarURLConnection jar) {
                // A jar file of its own, closed here: a cached one would keep the jar's directory in memory for good.
                jar.setUseCaches(false);
                try (java.util.jar.JarFile file = jar.getJarFile()) {
                    JarEntry entry = file.getJarEntry(jar.getEntryName());
                    if (entry != null && entry.getCrc() != -1 && entry.getSize() != -1) {
                        return Optional.of(Long.toHexString(entry.getCrc()) + " " + entry.getSize() + "\n");
                    }
                }
            }
        } catch (IOException e) {
            // read and hash the archive instead
        }
        return Optional.empty();
    }

    /** The complete unpacked copy in {@code workingDirectory} whose {@code .source} is {@code source}, if any. */
    private static Optional<Path> unpackedFrom(Path workingDirectory, String source) throws IOException {
        if (!Files.isDirectory(workingDirectory)) {
            return Optional.empty();
        }
        try (var entries = Files.list(workingDirectory)) {
            for (Path home : entries.filter(p -> p.getFileName().toString().startsWith("PG-")
                    && !p.getFileName().toString().endsWith(".partial")).toList()) {
                Path recorded = home.resolve(SOURCE);
                if (Files.exists(home.resolve(".exists")) && Files.isRegularFile(recorded, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        && Files.readString(recorded).equals(source)) {
                    return Optional.of(home);
                }
            }
        }
        return Optional.empty();
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
        if (UserNamespace.NEEDED) {
            command.add("unshare");
            command.add("-U");
        }
        command.add(home.resolve("bin").resolve(program).toString());
        command.addAll(List.of(args));
        return command;
    }

    /**
     * Whether PostgreSQL's programs run in a user namespace of their own: as root, where {@code unshare -U} works and
     * makes the process someone else there. The test zonky's LinuxUtils makes, without the Linux distribution probe its
     * class runs first (a shell script, and {@code lsb_release} where there is one, at every start).
     */
    private static final class UserNamespace {
        static final boolean NEEDED = probe();

        private static boolean probe() {
            try {
                if (!Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))) {
                    return false;
                }
                return succeeds("id", "-u", output -> !output.equals("0")) && succeeds("id", "-un", output -> true);
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        /** {@code unshare -U PROGRAM ARG} exits 0 and prints what {@code accepted} accepts. */
        private static boolean succeeds(String program, String arg, java.util.function.Predicate<String> accepted) throws IOException {
            Process process = new ProcessBuilder("unshare", "-U", program, arg).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            try {
                String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
                return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0 && accepted.test(output);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } finally {
                process.destroy();
            }
        }
    }

    /**
     * Unpacks the archive into {@code target} (empty). The xz stream is decoded by the system's {@code xz} when there is
     * one on the PATH (liblzma decodes the 57 MB several times faster than XZ for Java, the largest part of a first
     * start), else, or if it fails, by XZ for Java; both check the stream's CRC-64. The tar entries are written here
     * either way, with the checks and modes of {@link #untar}.
     */
    private static void extract(byte[] archive, Path target) throws IOException {
        Optional<Path> xz = systemXz();
        if (xz.isPresent()) {
            try {
                extractWithSystemXz(xz.get(), archive, target);
                return;
            } catch (IOException e) {
                // Whatever it wrote is discarded; XZ for Java decodes the archive again.
                deleteRecursively(target);
                PrivateFiles.createDirectories(target);
            }
        }
        try (InputStream decoded = new XZInputStream(new ByteArrayInputStream(archive))) {
            untar(decoded, target);
        }
    }

    private static Optional<Path> systemXz() {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String directory : path.split(":")) {
            if (!directory.isEmpty()) {
                Path xz = Path.of(directory, "xz");
                if (Files.isRegularFile(xz) && Files.isExecutable(xz)) {
                    return Optional.of(xz);
                }
            }
        }
        return Optional.empty();
    }

    private static void extractWithSystemXz(Path xz, byte[] archive, Path target) throws IOException {
        Process process = new ProcessBuilder(xz.toString(), "--decompress", "--stdout")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        Thread feeder = Thread.ofPlatform().daemon().name("postgres-binaries-xz").start(() -> {
            try (java.io.OutputStream in = process.getOutputStream()) {
                in.write(archive);
            } catch (IOException e) {
                // xz stopped reading (it failed, or was stopped below): its exit status says so
            }
        });
        try (InputStream decoded = process.getInputStream()) {
            untar(decoded, target);
            decoded.transferTo(java.io.OutputStream.nullOutputStream()); // past tar's end blocks, so that xz can finish
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IOException(xz + " did not decode the archive");
            }
            feeder.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unpacking", e);
        } finally {
            process.destroyForcibly();
        }
    }

    /** Writes the entries of the tar stream {@code decoded} under {@code target}, owner-only. */
    private static void untar(InputStream decoded, Path target) throws IOException {
        TarArchiveInputStream tar = new TarArchiveInputStream(decoded);
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
