package dev.silo.platform.log.drain;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import dev.silo.platform.config.LogDrainSettings;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The log drains of a node ({@code SILO_LOG_DRAINS}, claim C21): one {@link LogDrainAppender} per drain, attached at
 * start to the root logger and to {@code silo.api} (which does not pass its lines to root), so every line of the
 * {@code system}, {@code app} and {@code api} streams reaches every drain. Nothing is attached, and no thread runs,
 * when no drain is configured.
 *
 * <p>A watch thread looks at each drain once a second: a write that has made no progress for {@link #WRITE_TIMEOUT}
 * is ended (the connection is closed and opened again), and once per {@link #REPORT_EVERY report period} in which
 * lines were dropped, a {@code system} warning says how many, for which drain (by {@code scheme://host:port}, never
 * its credentials) and why. {@link #close()} detaches the drains and gives them {@link #MAX_FLUSH} together to send
 * what they hold
 * (then connections still busy are cut).
 */
public final class LogDrains implements AutoCloseable {
    public static final Duration MAX_FLUSH = Duration.ofSeconds(2);
    /** After {@link #MAX_FLUSH}, how long the senders get to end once their connections are cut. */
    static final Duration CUT_WAIT = Duration.ofMillis(200);
    static final Duration WRITE_TIMEOUT = Duration.ofSeconds(30);
    static final Duration REPORT_EVERY = Duration.ofMinutes(1);
    private static final org.slf4j.Logger log = LoggerFactory.getLogger(LogDrains.class);

    private final LoggerContext context;
    private final List<LogDrainAppender> drains;
    private final Optional<ScheduledExecutorService> watch;
    private final Map<LogDrainAppender, Long> reported = new ConcurrentHashMap<>();
    private final Duration reportEvery;
    private long nextReport;
    private boolean closed;

    private LogDrains(LoggerContext context, List<LogDrainAppender> drains, Duration reportEvery) {
        this.context = context;
        this.drains = List.copyOf(drains);
        this.reportEvery = reportEvery;
        this.nextReport = System.nanoTime() + reportEvery.toNanos();
        this.watch = drains.isEmpty() ? Optional.empty() : Optional.of(Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("silo-log-drains").factory()));
    }

    /** Starts the drains of {@code settings} (none: nothing happens). */
    public static LogDrains start(LogDrainSettings settings) {
        return start(settings, REPORT_EVERY);
    }

    static LogDrains start(LogDrainSettings settings, Duration reportEvery) {
        requireNonNull(settings, "settings is null");
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        List<LogDrainAppender> appenders = new ArrayList<>();
        if (!settings.drains().isEmpty()) {
            SSLContext tls = dev.silo.platform.crypto.ExtraCaTls.context(settings.caFile(), "log-drains");
            SyslogFormat format = new SyslogFormat(settings.hostname());
            int index = 0;
            for (LogDrainSettings.Drain drain : settings.drains()) {
                DrainTransport transport = switch (drain.transport()) {
                    case SYSLOG_TLS -> new SyslogConnection(drain, Optional.of(tls));
                    case SYSLOG_TCP -> new SyslogConnection(drain, Optional.empty());
                    case HTTPS -> new LogplexPoster(drain, tls);
                };
                LogDrainAppender appender = new LogDrainAppender(drain, transport, format, settings.queueLines());
                appender.setContext(context);
                appender.setName("drain-" + ++index);
                appenders.add(appender);
            }
        }
        LogDrains drains = new LogDrains(context, appenders, reportEvery);
        for (LogDrainAppender appender : appenders) {
            appender.start();
            context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(appender);
            context.getLogger("silo.api").addAppender(appender);
        }
        drains.watch.ifPresent(executor -> executor.scheduleWithFixedDelay(drains::check, 1, 1, TimeUnit.SECONDS));
        if (!appenders.isEmpty()) {
            log.info("Log drains: {}", appenders.stream().map(LogDrainAppender::display).toList());
        }
        return drains;
    }

    List<LogDrainAppender> drains() {
        return drains;
    }

    /** Lines dropped since start, over all drains (for a metric: {@code 0} without drains). */
    public long dropped() {
        return drains.stream().mapToLong(LogDrainAppender::dropped).sum();
    }

    private synchronized void check() {
        long now = System.nanoTime();
        for (LogDrainAppender drain : drains) {
            if (drain.endStalledWrite(now, WRITE_TIMEOUT.toNanos())) {
                log.warn("Log drain {} took no data for {} s: reconnecting", drain.display(), WRITE_TIMEOUT.toSeconds());
            }
        }
        if (now - nextReport >= 0) {
            report();
            nextReport = now + reportEvery.toNanos();
        }
    }

    private void report() {
        for (LogDrainAppender drain : drains) {
            long total = drain.dropped();
            long before = reported.getOrDefault(drain, 0L);
            if (total > before) {
                String problem = drain.problem();
                String why = problem.isEmpty()
                        ? "the drain takes lines slower than they are logged (or has stopped reading)"
                        : "the drain cannot be reached (" + problem + ")";
                log.warn("{} log lines dropped in the last {} s for the log drain {}: {} ({} dropped since start)",
                        total - before, reportEvery.toSeconds(), drain.display(), why, total);
                reported.put(drain, total);
            }
        }
    }

    /** Detaches the drains, then lets them send what they hold for {@link #MAX_FLUSH} at most. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (drains.isEmpty()) {
            return;
        }
        for (LogDrainAppender drain : drains) {
            context.getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(drain);
            context.getLogger("silo.api").detachAppender(drain);
        }
        watch.ifPresent(ScheduledExecutorService::shutdownNow);
        long deadline = System.nanoTime() + MAX_FLUSH.toNanos();
        drains.forEach(drain -> drain.beginStop(deadline));
        drains.forEach(drain -> drain.awaitSender(deadline));
        drains.forEach(LogDrainAppender::cut);
        long ended = System.nanoTime() + CUT_WAIT.toNanos();
        drains.forEach(drain -> drain.finishStop(ended));
        for (LogDrainAppender drain : drains) {
            long unreported = drain.dropped() - reported.getOrDefault(drain, 0L);
            if (unreported > 0) {
                // To stdout only: the drains are detached.
                log.warn("{} log lines were not delivered to the log drain {} ({} dropped since start)", unreported,
                        drain.display(), drain.dropped());
            }
        }
    }
}
