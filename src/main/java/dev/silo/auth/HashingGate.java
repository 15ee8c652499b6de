package dev.silo.auth;

import dev.silo.platform.problem.Unavailable;

import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * Bounds bcrypt work: at most {@code maxConcurrent} computations run at once and at most {@code maxWaiting}
 * more wait for a turn; beyond that a caller is refused at once with a 503 {@code login-busy} problem and
 * {@code Retry-After}, instead of queueing.
 *
 * <p>Why: one bcrypt verification at cost 12 takes about 210 ms of a core, so a login storm with unbounded
 * concurrency would take every core from the rest of the API, and an unbounded queue would only turn that into
 * timeouts. With the defaults (one runner per core, four waiting per core) a waiting login is answered in at
 * most about a second at cost 12, and every other route keeps running.
 *
 * <p>Built on two {@link Semaphore}s (admission, then a fair one for running), never on {@code synchronized},
 * so virtual threads that wait here do not pin their carrier. The work is a {@link Supplier} rather than a
 * {@code Callable} because bcrypt throws no checked exception. Permits are released however the work ends.
 */
public final class HashingGate {
    public static final Duration DEFAULT_RETRY_AFTER = Duration.ofSeconds(1);

    private final int maxConcurrent;
    private final int maxWaiting;
    private final Duration retryAfter;
    private final Semaphore admission;
    private final Semaphore running;

    /** One runner per available processor, four waiting per runner, {@code Retry-After: 1}. */
    public HashingGate() {
        this(Runtime.getRuntime().availableProcessors(), 4 * Runtime.getRuntime().availableProcessors(),
                DEFAULT_RETRY_AFTER);
    }

    public HashingGate(int maxConcurrent, int maxWaiting, Duration retryAfter) {
        if (maxConcurrent < 1) {
            throw new IllegalArgumentException("maxConcurrent must be at least 1, got " + maxConcurrent);
        }
        if (maxWaiting < 0) {
            throw new IllegalArgumentException("maxWaiting must not be negative, got " + maxWaiting);
        }
        requireNonNull(retryAfter, "retryAfter is null");
        if (retryAfter.isNegative() || retryAfter.isZero()) {
            throw new IllegalArgumentException("retryAfter must be positive, got " + retryAfter);
        }
        this.maxConcurrent = maxConcurrent;
        this.maxWaiting = maxWaiting;
        this.retryAfter = retryAfter;
        this.admission = new Semaphore(Math.addExact(maxConcurrent, maxWaiting));
        this.running = new Semaphore(maxConcurrent, true);
    }

    /**
     * Runs {@code work} when a runner is free and returns its result; exceptions of {@code work} pass through.
     *
     * @throws Unavailable {@code login-busy} at once when {@code maxConcurrent} run and {@code maxWaiting} wait
     *     already, or when the waiting thread is interrupted (its interrupt flag is kept)
     */
    public <T> T run(Supplier<T> work) {
        requireNonNull(work, "work is null");
        if (!admission.tryAcquire()) {
            throw busy();
        }
        try {
            try {
                running.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw busy();
            }
            try {
                return work.get();
            } finally {
                running.release();
            }
        } finally {
            admission.release();
        }
    }

    public int maxConcurrent() {
        return maxConcurrent;
    }

    public int maxWaiting() {
        return maxWaiting;
    }

    /** Calls running now (a snapshot, for metrics and tests). */
    public int running() {
        return maxConcurrent - running.availablePermits();
    }

    /** Calls waiting for a runner now (an estimate, for metrics and tests). */
    public int waiting() {
        return running.getQueueLength();
    }

    private Unavailable busy() {
        return new Unavailable("login-busy",
                "too many logins are being checked right now; retry after the time in Retry-After", retryAfter);
    }
}
