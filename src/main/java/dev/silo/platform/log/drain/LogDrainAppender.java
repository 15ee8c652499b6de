package dev.silo.platform.log.drain;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import dev.silo.platform.config.LogDrainSettings;
import net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.Objects.requireNonNull;

/**
 * One log drain: every line of the three streams is put into a bounded queue by the thread that logs it (which
 * never waits: when the queue is full the OLDEST line is dropped and counted, so what reaches the drain after an
 * outage is the most recent), and one platform thread of its own takes the lines off, formats them as RFC 5424
 * ({@link SyslogFormat}) and sends them in batches. A drain that refuses connections or breaks them is reconnected
 * with a backoff from {@value #MIN_BACKOFF_MILLIS} ms doubling to {@value #MAX_BACKOFF_MILLIS} ms; a batch whose
 * write fails is counted as dropped (delivery is at most once: a batch is never sent twice).
 *
 * <p>Memory is bounded by the queue's line count (the events are kept, their JSON is made on the sender thread) and,
 * for a drain that stops reading, the socket's fixed send buffer. {@link LogDrains} reports the drops once a minute
 * and ends a write that has made no progress for {@link LogDrains#WRITE_TIMEOUT}.
 */
final class LogDrainAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {
    static final long MIN_BACKOFF_MILLIS = 500;
    static final long MAX_BACKOFF_MILLIS = 30_000;
    static final int BATCH_LINES = 500;
    /**
     * After a batch that did not fill, the sender waits this long before it looks again, so that the lines gather:
     * a sender that waited in {@code poll} would be woken by every single line (a futex round trip per request),
     * which cost more than the line itself. A line reaches the drain at most this much later.
     */
    static final long GATHER_MILLIS = 10;
    private static final Logger log = LoggerFactory.getLogger(LogDrains.class);

    private final LogDrainSettings.Drain drain;
    private final DrainTransport transport;
    private final SyslogFormat format;
    private final ArrayBlockingQueue<ILoggingEvent> queue;
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong connectAttempts = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private volatile long writingSince;
    private volatile String problem = "";
    private volatile boolean healthy = true;
    private volatile boolean stopping;
    private volatile long flushDeadline;
    private LoggingEventCompositeJsonEncoder encoder;
    private Thread sender;

    LogDrainAppender(LogDrainSettings.Drain drain, DrainTransport transport, SyslogFormat format, int queueLines) {
        this.drain = requireNonNull(drain, "drain is null");
        this.transport = requireNonNull(transport, "transport is null");
        this.format = requireNonNull(format, "format is null");
        this.queue = new ArrayBlockingQueue<>(queueLines);
    }

    /** The drain as {@code scheme://host:port}: no credentials. */
    public String display() {
        return drain.display();
    }

    /** Lines dropped since start: pushed out of a full queue, lost with a broken connection, or left at stop. */
    public long dropped() {
        return dropped.get();
    }

    /** Lines written to the drain (for TCP and TLS: handed to the socket). */
    public long sent() {
        return sent.get();
    }

    /** Connections tried, successful or not. */
    public long connectAttempts() {
        return connectAttempts.get();
    }

    /** Connections made. */
    public long connections() {
        return connections.get();
    }

    /** Why the drain is not taking lines, when it is not (the last connection or write failure), else empty. */
    String problem() {
        return healthy ? "" : problem;
    }

    @Override
    public void start() {
        if (isStarted()) {
            return;
        }
        encoder = DrainJson.encoder(getContext());
        sender = Thread.ofPlatform().daemon().name("silo-log-drain-" + getName()).unstarted(this::run);
        super.start();
        sender.start();
    }

    @Override
    protected void append(ILoggingEvent event) {
        // The message, MDC (the request id) and thread as they are now, on the caller's thread; the JSON is made later.
        event.prepareForDeferredProcessing();
        while (!queue.offer(event)) {
            if (queue.poll() != null) {
                dropped.incrementAndGet();
            }
        }
    }

    private void run() {
        long backoff = MIN_BACKOFF_MILLIS;
        List<ILoggingEvent> batch = new ArrayList<>(BATCH_LINES);
        while (!(stopping && (queue.isEmpty() || System.nanoTime() - flushDeadline >= 0))) {
            if (!transport.connected()) {
                if (stopping && !healthy) {
                    break; // no time to wait for a drain that is down (one not tried yet gets its try)
                }
                connectAttempts.incrementAndGet();
                try {
                    transport.connect();
                    connections.incrementAndGet();
                } catch (IOException | RuntimeException e) {
                    failed("cannot be reached", describe(e));
                    if (!pause(backoff)) {
                        break;
                    }
                    backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
                    continue;
                }
            }
            try {
                ILoggingEvent first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
            } catch (InterruptedException e) {
                if (!stopping) {
                    continue;
                }
                break;
            }
            queue.drainTo(batch, BATCH_LINES - 1);
            List<byte[]> messages = new ArrayList<>(batch.size());
            for (ILoggingEvent event : batch) {
                try {
                    messages.add(format.format(event, DrainJson.line(encoder, event)));
                } catch (RuntimeException e) {
                    dropped.incrementAndGet();
                    addError("Formatting a line for log drain " + drain.display() + " failed", e);
                }
            }
            batch.clear();
            writingSince = System.nanoTime();
            try {
                transport.send(messages);
                sent.addAndGet(messages.size());
                // Only a write that went through proves the drain works: a drain that accepts connections and
                // breaks them keeps its backoff growing.
                backoff = MIN_BACKOFF_MILLIS;
                if (!healthy) {
                    healthy = true;
                    log.info("Log drain {} takes lines again", drain.display());
                }
                if (messages.size() < BATCH_LINES && !stopping) {
                    gather();
                }
            } catch (IOException | RuntimeException e) {
                dropped.addAndGet(messages.size());
                transport.disconnect();
                failed("failed, lost " + messages.size() + " line(s)", describe(e));
                if (!pause(backoff)) {
                    break;
                }
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
            } finally {
                writingSince = 0;
            }
        }
        dropped.addAndGet(queue.size());
        queue.clear();
        transport.close();
    }

    /**
     * Records a failure; only the first after a success is logged (the drops that follow are counted and reported
     * once a minute by {@link LogDrains}), so a drain that is down or flapping does not flood the log.
     */
    private void failed(String what, String why) {
        problem = why;
        if (healthy) {
            healthy = false;
            log.warn("Log drain {} {}: {}; retrying with a backoff up to {} s", drain.display(), what, why,
                    MAX_BACKOFF_MILLIS / 1000);
        }
    }

    private static void gather() {
        try {
            Thread.sleep(GATHER_MILLIS);
        } catch (InterruptedException e) {
            // cut at stop: the loop sees it
        }
    }

    /** Sleeps for the backoff; false when stopping cut it short. */
    private boolean pause(long millis) {
        try {
            Thread.sleep(millis);
            return !stopping;
        } catch (InterruptedException e) {
            return false;
        }
    }

    /**
     * The failure in words, without the URL: the class and the message. JDK socket and TLS messages name the host at
     * most, never the user or the path; an HTTPS drain's credentials travel in a header, not in the URL given to
     * the client.
     */
    private static String describe(Throwable e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null || message.isBlank() ? "" : ": " + message);
    }

    /** Ends a write that has been going on for longer than {@code timeoutNanos} (a drain that stopped reading). */
    boolean endStalledWrite(long now, long timeoutNanos) {
        long since = writingSince;
        if (since != 0 && now - since > timeoutNanos) {
            problem = "a write made no progress for " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s";
            transport.disconnect();
            return true;
        }
        return false;
    }

    /** Starts the bounded flush: the sender writes what is queued until {@code deadline} (a {@code nanoTime}). */
    void beginStop(long deadline) {
        flushDeadline = deadline;
        stopping = true;
    }

    /** Waits for the sender until {@code deadline} (a {@code nanoTime}); whether it ended. */
    boolean awaitSender(long deadline) {
        try {
            sender.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !sender.isAlive();
    }

    /** Past the flush time: cuts the connection (a write or connect that hangs returns) and stops the sender. */
    void cut() {
        if (sender.isAlive()) {
            transport.disconnect();
            sender.interrupt();
        }
    }

    /** Marks the appender stopped once the sender has ended (or {@code deadline} passed). */
    void finishStop(long deadline) {
        awaitSender(deadline);
        super.stop();
        if (!sender.isAlive()) {
            encoder.stop();
        }
    }

    @Override
    public void stop() {
        if (!isStarted()) {
            return;
        }
        long deadline = System.nanoTime() + LogDrains.MAX_FLUSH.toNanos();
        beginStop(deadline);
        if (!awaitSender(deadline)) {
            cut();
        }
        finishStop(System.nanoTime() + LogDrains.CUT_WAIT.toNanos());
    }
}
