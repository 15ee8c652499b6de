package dev.silo.platform.db;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The postmaster of one cluster, started and stopped with {@code pg_ctl}, always with the same port and
 * command-line settings (a restart after a crash must look exactly like the first start to the pools).
 *
 * <p>Why not the embedding library's start and stop: its stop waits only 5 s ({@code pg_ctl stop -t 5}) and
 * logs an ERROR with a stack trace when a shutdown checkpoint takes longer; it makes its working directory
 * world-writable at every start; and it cannot start the server again after a crash.
 */
public final class PostgresProcess {
    private static final Logger log = LoggerFactory.getLogger(PostgresProcess.class);
    /** A fast stop ends sessions, then writes a shutdown checkpoint: legitimate work that can take a while. */
    static final Duration FAST_STOP_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration IMMEDIATE_STOP_TIMEOUT = Duration.ofSeconds(30);
    /** Startup includes crash recovery (replaying WAL since the last checkpoint) after a crash. */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private final PostgresBinaries binaries;
    private final Path cluster;
    private final int port;
    private final Map<String, String> settings;

    public PostgresProcess(PostgresBinaries binaries, Path cluster, int port, Map<String, String> settings) {
        this.binaries = requireNonNull(binaries, "binaries is null");
        this.cluster = requireNonNull(cluster, "cluster is null");
        this.port = port;
        this.settings = new LinkedHashMap<>(settings);
    }

    int port() {
        return port;
    }

    /**
     * Starts the server and waits until it accepts connections (after crash recovery, when there was a crash).
     *
     * @return the postmaster
     */
    public ProcessHandle start() {
        List<String> options = new ArrayList<>(List.of("-p", Integer.toString(port)));
        settings.forEach((key, value) -> {
            options.add("-c");
            options.add(key + "=" + value); // values pass through /bin/sh: Silo's settings have no spaces
        });
        try {
            Path logDirectory = cluster.resolve("log");
            PrivateFiles.createDirectories(logDirectory);
            run(binaries.command("pg_ctl", "start", "-D", cluster.toString(), "-w", "-t", Long.toString(START_TIMEOUT.toSeconds()),
                    "-l", logDirectory.resolve("startup.log").toString(), "-o", String.join(" ", options)),
                    START_TIMEOUT.plusSeconds(30));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return postmaster(cluster).orElseThrow(() -> new IllegalStateException("PostgreSQL started but wrote no pid file in " + cluster));
    }

    /**
     * Stops the server: a fast stop (sessions end, then a shutdown checkpoint), given {@link #FAST_STOP_TIMEOUT}; if
     * it really takes longer, an immediate stop (crash recovery at the next start, nothing committed is lost). Returns
     * once the postmaster process has exited, not just once {@code pg_ctl} says so.
     */
    public void stop(ProcessHandle postmaster) {
        long started = System.nanoTime();
        try {
            run(binaries.command("pg_ctl", "stop", "-D", cluster.toString(), "-m", "fast", "-w",
                    "-t", Long.toString(FAST_STOP_TIMEOUT.toSeconds())), FAST_STOP_TIMEOUT.plusSeconds(30));
        } catch (RuntimeException e) {
            if (isRunning(postmaster)) {
                log.warn("The embedded PostgreSQL did not finish a fast stop within {} s ({}); stopping it immediately "
                        + "(the next start replays the WAL; nothing committed is lost)", FAST_STOP_TIMEOUT.toSeconds(), e.getMessage());
                try {
                    run(binaries.command("pg_ctl", "stop", "-D", cluster.toString(), "-m", "immediate", "-w",
                            "-t", Long.toString(IMMEDIATE_STOP_TIMEOUT.toSeconds())), IMMEDIATE_STOP_TIMEOUT.plusSeconds(30));
                } catch (RuntimeException again) {
                    log.warn("The embedded PostgreSQL did not stop immediately either: {}", again.getMessage());
                }
            }
        }
        // pg_ctl returns when the pid file is gone, which the postmaster removes just before it exits.
        if (!awaitExit(postmaster, IMMEDIATE_STOP_TIMEOUT)) {
            log.warn("The embedded PostgreSQL (pid {}) is still running after its stop; killing it", postmaster.pid());
            postmaster.destroyForcibly();
            awaitExit(postmaster, IMMEDIATE_STOP_TIMEOUT);
        }
        log.info("Embedded PostgreSQL stopped in {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /** The postmaster named in the cluster's pid file, if that process is running. */
    static Optional<ProcessHandle> postmaster(Path cluster) {
        return pidInFile(cluster).flatMap(ProcessHandle::of).filter(PostgresProcess::isRunning);
    }

    /** The first line of {@code postmaster.pid}, when there is one. */
    static Optional<Long> pidInFile(Path cluster) {
        try {
            List<String> lines = Files.readAllLines(cluster.resolve("postmaster.pid"), StandardCharsets.UTF_8);
            return lines.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(lines.get(0).strip()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * Alive and not a zombie. A postmaster is not Silo's child (pg_ctl daemonizes it), so when it dies it stays a
     * zombie until whoever adopted it reaps it, and {@link ProcessHandle#isAlive()} counts a zombie as alive (so does
     * PostgreSQL's own check of a stale pid file).
     */
    public static boolean isRunning(ProcessHandle process) {
        return process.isAlive() && !isZombie(process.pid());
    }

    static boolean isZombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            int end = stat.lastIndexOf(')'); // the command name in parentheses may contain spaces
            return end > 0 && stat.length() > end + 2 && stat.charAt(end + 2) == 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    static boolean awaitExit(ProcessHandle process, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isRunning(process)) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return !isRunning(process);
            }
        }
        return true;
    }

    /** Runs a PostgreSQL program to completion; a failure carries the program's own output (never a password). */
    static void run(List<String> command, Duration timeout) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException(program(command) + " did not finish within " + timeout);
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command.subList(0, Math.min(command.size(), 4)))
                        + " failed with exit code " + process.exitValue() + ": " + new String(output, StandardCharsets.UTF_8).strip());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static String program(List<String> command) {
        return Path.of(command.get(command.size() > 2 && command.get(0).equals("unshare") ? 2 : 0)).getFileName().toString();
    }
}
