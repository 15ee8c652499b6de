package dev.silo.platform.log;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import ch.qos.logback.core.spi.AppenderAttachable;
import ch.qos.logback.core.spi.AppenderAttachableImpl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Writes a log stream on a background thread through a bounded queue, and drops a line, counting it, when the
 * queue is full instead of making the caller wait: the {@code api} stream (one line per request) goes through it,
 * so a log sink slower than the traffic (a full pipe, a stalled log drain) costs lines, never requests. Logback's
 * own {@code AsyncAppender} with {@code neverBlock} drops too, but does not count what it drops.
 *
 * <p>What was dropped is never silent: a {@code system} warning names the count once per
 * {@link #setReportSeconds report period} in which lines were dropped, and {@link #dropped()} is the total since
 * start. Streams that must never lose a line ({@code app}, which carries audit checkpoints and security events,
 * and {@code system}) stay synchronous and do not use this appender.
 *
 * <p>At shutdown (a JVM shutdown hook, and {@link #stop()}) the lines still queued are written, for at most
 * {@link #setMaxFlushMillis the flush time}.
 */
public final class DroppingAsyncAppender extends UnsynchronizedAppenderBase<ILoggingEvent>
        implements AppenderAttachable<ILoggingEvent> {
    private static final Logger log = LoggerFactory.getLogger(DroppingAsyncAppender.class);

    private final AppenderAttachableImpl<ILoggingEvent> downstream = new AppenderAttachableImpl<>();
    private final AtomicLong dropped = new AtomicLong();
    private int queueSize = 8192;
    private int reportSeconds = 60;
    private int maxFlushMillis = 1000;
    private final AtomicLong pending = new AtomicLong();
    private volatile BlockingQueue<ILoggingEvent> queue;
    private Thread worker;
    private Thread flushAtExit;

    /** Lines the queue holds at most (default 8192, about 4 MiB of api lines). */
    public void setQueueSize(int queueSize) {
        if (queueSize < 1) {
            throw new IllegalArgumentException("queueSize must be at least 1: " + queueSize);
        }
        this.queueSize = queueSize;
    }

    public int getQueueSize() {
        return queueSize;
    }

    /** How often at most the warning about dropped lines is written (default 60 s). */
    public void setReportSeconds(int reportSeconds) {
        if (reportSeconds < 1) {
            throw new IllegalArgumentException("reportSeconds must be at least 1: " + reportSeconds);
        }
        this.reportSeconds = reportSeconds;
    }

    /** How long stopping waits at most for the queued lines to be written (default 1000 ms). */
    public void setMaxFlushMillis(int maxFlushMillis) {
        if (maxFlushMillis < 0) {
            throw new IllegalArgumentException("maxFlushMillis must not be negative: " + maxFlushMillis);
        }
        this.maxFlushMillis = maxFlushMillis;
    }

    /** Lines dropped since start because the queue was full. */
    public long dropped() {
        return dropped.get();
    }

    /** Lines accepted and not yet written. */
    public long pending() {
        return pending.get();
    }

    @Override
    public void start() {
        if (isStarted()) {
            return;
        }
        if (!downstream.iteratorForAppenders().hasNext()) {
            addError("No appender-ref in the appender named [" + getName() + "]: nothing to write to");
            return;
        }
        queue = new ArrayBlockingQueue<>(queueSize);
        worker = Thread.ofPlatform().daemon().name("silo-log-" + (getName() == null ? "async" : getName()))
                .unstarted(this::drain);
        super.start();
        worker.start();
        flushAtExit = new Thread(() -> flush(Duration.ofMillis(maxFlushMillis)), "silo-log-flush");
        try {
            Runtime.getRuntime().addShutdownHook(flushAtExit);
        } catch (IllegalStateException shuttingDown) {
            flushAtExit = null;
        }
    }

    @Override
    protected void append(ILoggingEvent event) {
        // The message, thread name and MDC (the request id) as they are now, on the caller's thread.
        event.prepareForDeferredProcessing();
        pending.incrementAndGet();
        if (!queue.offer(event)) {
            pending.decrementAndGet();
            dropped.incrementAndGet();
        }
    }

    private void drain() {
        long reportedDropped = 0;
        long nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(reportSeconds);
        BlockingQueue<ILoggingEvent> lines = queue;
        while (isStarted() || !lines.isEmpty()) {
            try {
                ILoggingEvent event = lines.poll(Math.max(1, Math.min(nextReport - System.nanoTime(),
                        TimeUnit.SECONDS.toNanos(1))), TimeUnit.NANOSECONDS);
                if (event != null) {
                    try {
                        downstream.appendLoopOnAppenders(event);
                    } finally {
                        pending.decrementAndGet();
                    }
                }
            } catch (InterruptedException e) {
                if (!isStarted()) {
                    break;
                }
            } catch (RuntimeException e) {
                addError("Writing a line of [" + getName() + "] failed", e);
            }
            if (System.nanoTime() - nextReport >= 0) {
                long total = dropped.get();
                if (total > reportedDropped) {
                    // On the system stream, written synchronously: it is never itself dropped.
                    log.warn("{} {} log lines dropped in the last {} s: the log output is slower than the traffic "
                            + "({} dropped since start)", total - reportedDropped, getName(), reportSeconds, total);
                    reportedDropped = total;
                }
                nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(reportSeconds);
            }
        }
    }

    /**
     * Waits until every accepted line is written, or {@code timeout} passed.
     *
     * @return whether every accepted line was written
     */
    public boolean flush(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (pending.get() > 0 && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
        return pending.get() == 0;
    }

    @Override
    public void stop() {
        if (!isStarted()) {
            return;
        }
        flush(Duration.ofMillis(maxFlushMillis));
        super.stop();
        worker.interrupt();
        try {
            worker.join(maxFlushMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (flushAtExit != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(flushAtExit);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
        if (dropped.get() > 0) {
            addWarn(dropped.get() + " lines of [" + getName() + "] were dropped since start");
        }
    }

    @Override
    public void addAppender(Appender<ILoggingEvent> appender) {
        downstream.addAppender(appender);
    }

    @Override
    public Iterator<Appender<ILoggingEvent>> iteratorForAppenders() {
        return downstream.iteratorForAppenders();
    }

    @Override
    public Appender<ILoggingEvent> getAppender(String name) {
        return downstream.getAppender(name);
    }

    @Override
    public boolean isAttached(Appender<ILoggingEvent> appender) {
        return downstream.isAttached(appender);
    }

    @Override
    public void detachAndStopAllAppenders() {
        downstream.detachAndStopAllAppenders();
    }

    @Override
    public boolean detachAppender(Appender<ILoggingEvent> appender) {
        return downstream.detachAppender(appender);
    }

    @Override
    public boolean detachAppender(String name) {
        return downstream.detachAppender(name);
    }
}
