package dev.silo.auth;

import dev.silo.platform.problem.Unavailable;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * Runs bcrypt (claim C8) on its own bounded pool of platform threads, never on the caller's thread: at most
 * {@code threads} computations run at once and at most {@code queue} more wait; beyond that a caller is refused
 * at once with a 503 {@code login-busy} problem and {@code Retry-After}, instead of queueing.
 *
 * <p>Why platform threads: request handlers run on virtual threads, and the JDK schedules those on one carrier
 * thread per core. One bcrypt verification at cost 12 holds a core for about 210 ms without ever blocking, so
 * bcrypt on virtual threads occupies the carriers and no other request runs meanwhile (two concurrent logins
 * took {@code /me} from 3 ms to 350 ms). Here the handler's virtual thread only waits for the {@link Future},
 * which unmounts it. The default, one thread fewer than there are cores (at least one), leaves a core for the
 * rest of the API.
 *
 * <p>Admission is decided before the caller does anything else: {@link #reserve} takes one of
 * {@code threads + queue} places or refuses at once, so a login storm is shed before it reads the database or
 * waits for a tenant connection. The executor's own queue is bounded too ({@link ThreadPoolExecutor.AbortPolicy}):
 * should it ever be full despite admission, the caller gets the same {@code login-busy}.
 */
public final class HashingGate implements AutoCloseable {
    public static final Duration DEFAULT_RETRY_AFTER = Duration.ofSeconds(1);
    /** The problem type of a refusal. */
    public static final String BUSY = "login-busy";
    /** Waiting places per hashing thread: at cost 12 a waiting login is answered within about a second. */
    public static final int DEFAULT_QUEUE_PER_THREAD = 4;

    private final int threads;
    private final int queue;
    private final Duration retryAfter;
    private final Semaphore admission;
    private final ThreadPoolExecutor executor;

    /** {@link #defaultThreads()} threads, four waiting per thread, {@code Retry-After: 1}. */
    public HashingGate() {
        this(defaultThreads(), DEFAULT_QUEUE_PER_THREAD * defaultThreads(), DEFAULT_RETRY_AFTER);
    }

    public HashingGate(int threads, int queue, Duration retryAfter) {
        if (threads < 1) {
            throw new IllegalArgumentException("SILO_HASHING_THREADS must be at least 1, got " + threads);
        }
        if (queue < 0) {
            throw new IllegalArgumentException("SILO_HASHING_QUEUE must not be negative, got " + queue);
        }
        requireNonNull(retryAfter, "retryAfter is null");
        if (retryAfter.isNegative() || retryAfter.isZero()) {
            throw new IllegalArgumentException("retryAfter must be positive, got " + retryAfter);
        }
        this.threads = threads;
        this.queue = queue;
        this.retryAfter = retryAfter;
        this.admission = new Semaphore(Math.addExact(threads, queue));
        // The executor's queue holds the admitted calls that wait; one more place per thread than admission strictly
        // needs covers the moment each thread has finished one computation (its place given back, a new caller
        // admitted) but not yet taken the next from the queue.
        this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queue + threads), Thread.ofPlatform().daemon().name("silo-bcrypt-", 1).factory(),
                new ThreadPoolExecutor.AbortPolicy());
    }

    /** One thread fewer than there are cores, at least one. */
    public static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    }

    /**
     * Takes a place for one caller's bcrypt work, which it then runs with {@link Reservation#run} (one computation
     * at a time, as many in sequence as it needs) and gives back with {@link Reservation#close}.
     *
     * @throws Unavailable {@code login-busy} at once when every place is taken
     */
    public Reservation reserve() {
        if (!admission.tryAcquire()) {
            throw busy();
        }
        return new Reservation();
    }

    /** {@link #reserve}, run {@code work} once, give the place back. */
    public <T> T run(Supplier<T> work) {
        requireNonNull(work, "work is null");
        try (Reservation reservation = reserve()) {
            return reservation.run(work);
        }
    }

    /** A place in the gate; not thread-safe (one caller uses it). */
    public final class Reservation implements AutoCloseable {
        private final AtomicBoolean closed = new AtomicBoolean();

        private Reservation() {}

        /**
         * Runs {@code work} on a hashing thread and waits for its result; exceptions of {@code work} pass through.
         *
         * @throws Unavailable {@code login-busy} when the waiting thread is interrupted (its interrupt flag is
         *     kept) or the pool is shut down
         */
        public <T> T run(Supplier<T> work) {
            requireNonNull(work, "work is null");
            if (closed.get()) {
                throw new IllegalStateException("reservation already closed");
            }
            Future<T> future;
            try {
                future = executor.submit(work::get);
            } catch (RejectedExecutionException e) {
                throw busy();
            }
            try {
                return future.get();
            } catch (InterruptedException e) {
                future.cancel(false);
                Thread.currentThread().interrupt();
                throw busy();
            } catch (CancellationException e) {
                throw busy();
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException runtime) {
                    throw runtime;
                }
                if (cause instanceof Error error) {
                    throw error;
                }
                throw new IllegalStateException(cause);
            }
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                admission.release();
            }
        }
    }

    public int threads() {
        return threads;
    }

    public int queue() {
        return queue;
    }

    /** Computations running now (a snapshot, for metrics and tests). */
    public int running() {
        return executor.getActiveCount();
    }

    /** Computations waiting for a thread now (a snapshot, for metrics and tests). */
    public int waiting() {
        return executor.getQueue().size();
    }

    /** Places free for {@link #reserve} now (a snapshot, for metrics and tests). */
    public int freePlaces() {
        return admission.availablePermits();
    }

    /** Stops the threads; computations still running are interrupted (bcrypt ignores that and finishes). */
    @Override
    public void close() {
        executor.shutdownNow();
    }

    private Unavailable busy() {
        return new Unavailable(BUSY,
                "too many logins are being checked right now; retry after the time in Retry-After", retryAfter);
    }
}
