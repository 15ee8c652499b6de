package dev.silo.platform.db;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * Watches the embedded postmaster and starts it again, with the same port and settings, when it dies while Silo
 * is not stopping (a crash, an out-of-memory kill, an operator's {@code kill -9} or {@code pg_ctl stop}). The
 * restart is PostgreSQL's own crash recovery: it replays the WAL, so every committed transaction is there after it.
 * While the server is down, {@link DatabaseAvailability} says so and requests get a 503 at once; the pools
 * reconnect by themselves once it is back.
 *
 * <p>One platform daemon thread polls the process (a postmaster is not Silo's child, so there is no exit
 * notification cheaper than a poll; {@link ProcessHandle#onExit()} polls too, ever more slowly). A restart that
 * fails (old backends still attached to the shared memory, say) is retried with a backoff of up to 10 s.
 */
final class PostmasterSupervisor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PostmasterSupervisor.class);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration FIRST_RETRY = Duration.ofMillis(250);
    private static final Duration MAX_RETRY = Duration.ofSeconds(10);

    private final PostgresProcess process;
    private final Path cluster;
    private final DatabaseAvailability availability;
    /** Held while the server is started or stopped, so that a restart and the final stop never overlap. */
    private final ReentrantLock lifecycle = new ReentrantLock();
    private final CountDownLatch closing = new CountDownLatch(1);
    private final Thread thread;
    private volatile ProcessHandle postmaster;
    private volatile int restarts;

    PostmasterSupervisor(PostgresProcess process, Path cluster, ProcessHandle postmaster, DatabaseAvailability availability) {
        this.process = requireNonNull(process, "process is null");
        this.cluster = requireNonNull(cluster, "cluster is null");
        this.postmaster = requireNonNull(postmaster, "postmaster is null");
        this.availability = requireNonNull(availability, "availability is null");
        this.thread = Thread.ofPlatform().daemon().name("embedded-postgres-supervisor").unstarted(this::supervise);
    }

    void start() {
        thread.start();
    }

    ProcessHandle postmaster() {
        return postmaster;
    }

    /** How many times the server was started again after it died. */
    int restarts() {
        return restarts;
    }

    private boolean isClosing() {
        return closing.getCount() == 0;
    }

    private void supervise() {
        while (!isClosing()) {
            ProcessHandle watched = postmaster;
            if (PostgresProcess.isRunning(watched)) {
                pause(POLL);
                continue;
            }
            lifecycle.lock();
            try {
                if (isClosing()) {
                    return;
                }
                availability.markDown("the embedded PostgreSQL (pid " + watched.pid() + ") exited");
                log.error("The embedded PostgreSQL (pid {}) exited unexpectedly; starting it again on port {}", watched.pid(),
                        process.port());
            } finally {
                lifecycle.unlock();
            }
            restart(watched);
        }
    }

    private void restart(ProcessHandle dead) {
        long started = System.nanoTime();
        Duration retry = FIRST_RETRY;
        for (int attempt = 1; !isClosing(); attempt++) {
            lifecycle.lock();
            try {
                if (isClosing()) {
                    return;
                }
                removePidFileOf(dead);
                postmaster = process.start();
                restarts++;
                availability.markUp();
                log.warn("The embedded PostgreSQL is back (pid {}) after crash recovery, {} ms after it exited ({} attempt(s))",
                        postmaster.pid(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), attempt);
                return;
            } catch (RuntimeException e) {
                log.warn("Cannot start the embedded PostgreSQL again yet (attempt {}): {}; retrying in {} ms", attempt,
                        e.getMessage(), retry.toMillis());
            } finally {
                lifecycle.unlock();
            }
            pause(retry);
            retry = retry.multipliedBy(2).compareTo(MAX_RETRY) > 0 ? MAX_RETRY : retry.multipliedBy(2);
        }
    }

    /**
     * A dead postmaster that nobody has reaped yet still answers {@code kill(pid, 0)}, and PostgreSQL then refuses to
     * start ("lock file postmaster.pid already exists"). The file is removed only when it names the postmaster seen
     * dying; PostgreSQL's shared-memory interlock still stops a start while its old backends are alive.
     */
    private void removePidFileOf(ProcessHandle dead) {
        Optional<Long> pid = PostgresProcess.pidInFile(cluster);
        if (pid.isPresent() && pid.get() == dead.pid() && !PostgresProcess.isRunning(dead)) {
            try {
                Files.deleteIfExists(cluster.resolve("postmaster.pid"));
            } catch (IOException e) {
                log.warn("Cannot remove the pid file of the dead PostgreSQL: {}", e.toString());
            }
        }
    }

    private void pause(Duration duration) {
        try {
            closing.await(duration.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closing.countDown();
        }
    }

    /**
     * Stops supervising and stops the server if it runs. A server that is not running (it died and Silo is
     * stopping) is not waited for.
     */
    @Override
    public void close() {
        closing.countDown();
        lifecycle.lock();
        try {
            ProcessHandle current = postmaster;
            if (PostgresProcess.isRunning(current)) {
                process.stop(current);
            } else {
                log.warn("The embedded PostgreSQL (pid {}) is not running; nothing to stop", current.pid());
            }
        } finally {
            lifecycle.unlock();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
