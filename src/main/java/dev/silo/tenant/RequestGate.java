package dev.silo.tenant;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A counting semaphore for the requests of one tenant pool, with one permit per connection the pool may hold:
 * requests wait here, in arrival order, and a request holding a permit always finds a connection in the pool.
 *
 * <p>Why not {@link java.util.concurrent.Semaphore}: its timed wait is a timed park, and a timed park of a
 * virtual thread schedules, then cancels, a task on the JDK's delay scheduler thread; each of the two wakes that
 * thread (a futex call and a context switch). Profiles of record reads with 64 clients on a pool of 4 put ~15% of
 * Silo's CPU there. Waiters here park without a timer; {@link #expire} (run by the pool sweeper every few tens
 * of milliseconds) wakes those whose deadline has passed. And why not queue inside HikariCP: its hand-off to
 * waiting borrowers spins ({@code Thread.yield} and 10 µs parks), which cost more than the query.
 */
final class RequestGate {
    private static final int WAITING = 0;
    private static final int GRANTED = 1;
    private static final int GAVE_UP = 2;

    private static final class Waiter {
        final Thread thread = Thread.currentThread();
        final long deadline;
        final AtomicInteger state = new AtomicInteger(WAITING);

        Waiter(long deadline) {
            this.deadline = deadline;
        }
    }

    private final AtomicInteger permits;
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();

    RequestGate(int permits) {
        if (permits < 1) {
            throw new IllegalArgumentException("permits < 1");
        }
        this.permits = new AtomicInteger(permits);
    }

    /**
     * Takes a permit, waiting at most {@code timeoutNanos} (give or take the sweeper's period) behind the requests
     * that came first.
     *
     * @return false when the time ran out or the thread was interrupted (its interrupt flag is then set)
     */
    boolean acquire(long timeoutNanos) {
        if (waiters.isEmpty() && takePermit()) {
            return true;
        }
        Waiter me = new Waiter(System.nanoTime() + timeoutNanos);
        waiters.add(me);
        // A permit released between the failed attempt and the enqueue found no one to hand it to.
        drain();
        while (true) {
            int state = me.state.get();
            if (state == GRANTED) {
                return true;
            }
            if (state == GAVE_UP) {
                return false;
            }
            boolean late = System.nanoTime() - me.deadline >= 0;
            if ((late || Thread.currentThread().isInterrupted()) && me.state.compareAndSet(WAITING, GAVE_UP)) {
                return false;
            }
            if (!late) {
                LockSupport.park(this);
            }
        }
    }

    void release() {
        permits.incrementAndGet();
        drain();
    }

    /** Wakes the waiters whose deadline has passed, and forgets those that gave up. */
    void expire() {
        long now = System.nanoTime();
        for (Waiter waiter : waiters) {
            if (now - waiter.deadline >= 0 && waiter.state.compareAndSet(WAITING, GAVE_UP)) {
                LockSupport.unpark(waiter.thread);
            }
        }
        waiters.removeIf(waiter -> waiter.state.get() == GAVE_UP);
    }

    /** Wakes every waiter now, as if its deadline had passed: used when the database is known to be down. */
    void expireAll() {
        for (Waiter waiter : waiters) {
            if (waiter.state.compareAndSet(WAITING, GAVE_UP)) {
                LockSupport.unpark(waiter.thread);
            }
        }
        waiters.removeIf(waiter -> waiter.state.get() == GAVE_UP);
    }

    int waiting() {
        return (int) waiters.stream().filter(waiter -> waiter.state.get() == WAITING).count();
    }

    int available() {
        return permits.get();
    }

    /** Hands free permits to the oldest waiters still waiting. */
    private void drain() {
        while (!waiters.isEmpty() && takePermit()) {
            Waiter next = waiters.poll();
            if (next != null && next.state.compareAndSet(WAITING, GRANTED)) {
                LockSupport.unpark(next.thread);
                continue;
            }
            // No one there (another drain took them) or one who gave up: put the permit back and look again.
            permits.incrementAndGet();
        }
    }

    private boolean takePermit() {
        while (true) {
            int free = permits.get();
            if (free == 0) {
                return false;
            }
            if (permits.compareAndSet(free, free - 1)) {
                return true;
            }
        }
    }
}
