package dev.silo.platform.log.tail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

import static java.util.Objects.requireNonNull;

/**
 * The last {@link #CAPACITY} log lines of the process (all three streams), and the clients following them (claim
 * C21's live tail). Appending is a short critical section with no I/O: the line goes into a ring, then into the
 * bounded queue of every subscriber whose filter it passes, without waiting; a subscriber whose queue is full (a
 * slow client) loses the line and learns how many it lost. Logging never waits for a tail client.
 *
 * <p>One per process ({@link #global()}), like the logging system it hangs off ({@link TailAppender} in
 * {@code logback.xml}).
 */
public final class LogTail {
    public static final int CAPACITY = 1000;
    /** Lines a subscriber may be behind before it drops: the whole ring, so the backlog never drops. */
    public static final int SUBSCRIBER_QUEUE = 1000;

    private static final LogTail GLOBAL = new LogTail(CAPACITY);

    private final ReentrantLock lock = new ReentrantLock();
    private final TailLine[] ring;
    private long next;
    private final List<Subscription> subscribers = new CopyOnWriteArrayList<>();

    LogTail(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity < 1: " + capacity);
        }
        this.ring = new TailLine[capacity];
    }

    public static LogTail global() {
        return GLOBAL;
    }

    /** The number the next line gets (the {@code seq} of {@link TailLine}). */
    long nextSeq() {
        lock.lock();
        try {
            return next;
        } finally {
            lock.unlock();
        }
    }

    /** Adds a line; {@code line} is built with {@code seq} from inside the lock, so numbers follow the ring order. */
    void append(LineFactory line) {
        lock.lock();
        try {
            TailLine built = line.build(next);
            ring[(int) (next % ring.length)] = built;
            next++;
            for (Subscription subscription : subscribers) {
                subscription.offer(built);
            }
        } finally {
            lock.unlock();
        }
    }

    @FunctionalInterface
    interface LineFactory {
        TailLine build(long seq);
    }

    /** The buffered lines that pass {@code filter}, oldest first. */
    public List<TailLine> buffered(Predicate<TailLine> filter) {
        lock.lock();
        try {
            return snapshot(filter);
        } finally {
            lock.unlock();
        }
    }

    private List<TailLine> snapshot(Predicate<TailLine> filter) {
        List<TailLine> lines = new ArrayList<>();
        long first = Math.max(0, next - ring.length);
        for (long seq = first; seq < next; seq++) {
            TailLine line = ring[(int) (seq % ring.length)];
            if (line != null && filter.test(line)) {
                lines.add(line);
            }
        }
        return lines;
    }

    /**
     * Follows the log: the buffered lines that pass {@code filter}, then every new one, without a gap or a line twice
     * between the two (both are taken under the lock). Close the subscription when the client leaves.
     */
    public Subscription subscribe(Predicate<TailLine> filter) {
        requireNonNull(filter, "filter is null");
        lock.lock();
        try {
            Subscription subscription = new Subscription(filter, snapshot(filter));
            subscribers.add(subscription);
            return subscription;
        } finally {
            lock.unlock();
        }
    }

    /** Clients following now. */
    public int subscribers() {
        return subscribers.size();
    }

    /** One client following the log. */
    public final class Subscription implements AutoCloseable {
        private final Predicate<TailLine> filter;
        private final List<TailLine> backlog;
        private final BlockingQueue<TailLine> queue = new ArrayBlockingQueue<>(SUBSCRIBER_QUEUE);
        private final AtomicLong dropped = new AtomicLong();
        private volatile boolean closed;

        private Subscription(Predicate<TailLine> filter, List<TailLine> backlog) {
            this.filter = filter;
            this.backlog = List.copyOf(backlog);
        }

        /** Put in the queue by {@link #close()}: wakes the client's thread at once. */
        private static final TailLine CLOSED = new TailLine(-1, 0, "", "", "", "", null, null, null, null, null);

        private void offer(TailLine line) {
            if (!closed && filter.test(line) && !queue.offer(line)) {
                dropped.incrementAndGet();
            }
        }

        /** The lines buffered when the subscription began, oldest first. */
        public List<TailLine> backlog() {
            return backlog;
        }

        /** The next new line, waiting at most {@code timeout}; empty when none came or the subscription is closed. */
        public Optional<TailLine> next(Duration timeout) throws InterruptedException {
            if (closed) {
                return Optional.empty();
            }
            TailLine line = queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            return line == CLOSED ? Optional.empty() : Optional.ofNullable(line);
        }

        /** Lines lost since the last call because this client read too slowly (its queue was full). */
        public long takeDropped() {
            return dropped.getAndSet(0);
        }

        public boolean closed() {
            return closed;
        }

        @Override
        public void close() {
            closed = true;
            subscribers.remove(this);
            queue.clear();
            queue.offer(CLOSED);
        }
    }
}
