package dev.silo.platform.cpu;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * A bounded pool of platform threads for CPU-heavy bulk work that a request needs done (decrypting an export's
 * records a batch at a time, compressing, bulk encryption): never on the request's virtual thread, whose carrier
 * it would hold while every other request waits.
 *
 * <p>Callers hand over short pieces of work (one batch, not a whole download) and wait for each; the I/O around
 * it (reading rows, writing to a slow client) stays on the caller's thread, so a slow client never holds a pool
 * thread. Callers beyond the pool's places wait for one (they are not refused: bulk work is what a caller asked
 * for, and each piece is short). Work handed over from a pool thread runs inline.
 */
public final class BulkWork implements AutoCloseable {
    private static final String THREAD_PREFIX = "silo-bulk-";
    private final ThreadPoolExecutor executor;
    private final Semaphore places;

    /** {@link #defaultThreads()} threads. */
    public BulkWork() {
        this(defaultThreads());
    }

    public BulkWork(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        int queue = 4 * threads;
        this.places = new Semaphore(threads + queue);
        // A place is given back when a caller's work is done, which may be before its thread takes the next queued
        // piece: the executor's queue has room for one such moment per thread on top of the places.
        this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queue + threads),
                Thread.ofPlatform().daemon().name(THREAD_PREFIX, 1).factory(), new ThreadPoolExecutor.AbortPolicy());
    }

    /** One thread fewer than there are cores, at least one: a core stays free for the rest of the API. */
    public static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    }

    /**
     * Runs {@code work} on a pool thread and returns its result; its unchecked exceptions reach the caller as
     * they are, checked ones wrapped in {@link IllegalStateException}.
     */
    public <T> T call(Callable<T> work) {
        requireNonNull(work, "work is null");
        if (Thread.currentThread().getName().startsWith(THREAD_PREFIX) && !Thread.currentThread().isVirtual()) {
            return runInline(work);
        }
        try {
            places.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a bulk-work thread", e);
        }
        try {
            Future<T> future = executor.submit(work);
            try {
                return future.get();
            } catch (InterruptedException e) {
                future.cancel(true);
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for bulk work", e);
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
        } finally {
            places.release();
        }
    }

    /** Pieces of work running now (a snapshot, for metrics). */
    public int running() {
        return executor.getActiveCount();
    }

    /** Pieces of work waiting for a thread now (a snapshot, for metrics). */
    public int waiting() {
        return executor.getQueue().size();
    }

    private static <T> T runInline(Callable<T> work) {
        try {
            return work.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
