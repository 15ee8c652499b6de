package dev.silo.platform.errors;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxy;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import com.rollbar.api.payload.data.Server;
import com.rollbar.notifier.Rollbar;
import com.rollbar.notifier.config.Config;
import com.rollbar.notifier.config.ConfigBuilder;
import dev.silo.platform.config.ErrorReportsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.KeyValuePair;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.Objects.requireNonNull;

/**
 * Reports every error Silo logs to Rollbar (claim C22): a logback appender on the root logger that takes each
 * {@code ERROR} event (an unexpected exception in a request, answered as the opaque 500 {@code internal-error}, is
 * logged at ERROR exactly once by the HTTP server; so are the failures of background work that need a person) and
 * hands it to one platform thread through a bounded queue. The logging thread only copies references into the
 * queue: a full queue (Rollbar slow or unreachable, an error storm) drops the report and counts it, and a request
 * never waits for Rollbar. The worker builds the item with the official notifier (rollbar-java) and posts it
 * through {@link ItemSender}.
 *
 * <p>What an item carries, and nothing else: the exception classes and stack frames, messages through
 * {@link ErrorText#scrub} (the first line, values removed), the log message's <em>pattern</em> (never its
 * arguments), the route template (never the raw path), the method, the request id, the tenant id (never the slug),
 * the logger and thread names, the environment, the code version and the host name. No request body, header,
 * query string, token, user id or e-mail is read from anywhere.
 */
public final class ErrorReports extends UnsynchronizedAppenderBase<ILoggingEvent> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ErrorReports.class);

    /** Reports waiting for the worker at most; one is a few kilobytes. */
    public static final int QUEUE_SIZE = 256;
    /** How often at most the warning about dropped or failed reports is written. */
    static final Duration WARN_PERIOD = Duration.ofSeconds(60);
    /** MDC entries copied into an item ({@code request_id} from the HTTP edge, {@code tenant_id} once resolved). */
    static final Set<String> MDC_KEYS = Set.of("request_id", "tenant_id");
    /** Key-value pairs of the log event copied into an item. */
    static final Set<String> KEY_VALUE_KEYS = Set.of("route", "method");
    /** Loggers never reported: this class's own warnings, and the SDK's, would otherwise report themselves. */
    private static final List<String> OWN_LOGGERS = List.of("dev.silo.platform.errors.", "com.rollbar.");

    /** One error as taken from the logging thread: references and copies only, no formatting, no scrubbing yet. */
    private record Report(String logger, String thread, String pattern, Throwable error, Map<String, String> mdc,
                          List<KeyValuePair> keyValues) {}

    private final BlockingQueue<Report> queue = new ArrayBlockingQueue<>(QUEUE_SIZE);
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final Rollbar rollbar;
    private final ItemSender sender;
    private final String codeVersion;
    private final Thread worker;
    /** The route of the item being built; read by the notifier's context provider on the worker thread only. */
    private String currentContext;
    private volatile boolean closing;

    private ErrorReports(ErrorReportsConfig config, String codeVersion) {
        this.codeVersion = requireNonNull(codeVersion, "codeVersion is null");
        this.sender = new ItemSender(config.endpoint(), config.accessToken().orElseThrow());
        Server server = new Server.Builder().host(hostName()).root("dev.silo").build();
        Config rollbarConfig = ConfigBuilder.withAccessToken(config.accessToken().orElseThrow())
                .environment(config.environment())
                .codeVersion(codeVersion)
                .platform("java")
                .framework("helidon-se")
                .handleUncaughtErrors(false)
                .server(() -> server)
                .context(() -> currentContext)
                .appPackages(List.of("dev.silo"))
                .sender(sender)
                .build();
        this.rollbar = new Rollbar(rollbarConfig);
        this.worker = Thread.ofPlatform().daemon().name("silo-error-reports").unstarted(this::drain);
    }

    /**
     * Starts reporting every ERROR logged in this process, when {@code config} has a token; empty otherwise (and
     * then nothing is ever sent).
     *
     * @param codeVersion the git commit of this build, or its version when the commit is not known
     */
    public static Optional<ErrorReports> install(ErrorReportsConfig config, String codeVersion) {
        requireNonNull(config, "config is null");
        if (!config.enabled()) {
            return Optional.empty();
        }
        ErrorReports reports = new ErrorReports(config, codeVersion);
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        reports.setContext(context);
        reports.setName("rollbar");
        reports.start();
        reports.worker.start();
        context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(reports);
        log.info("Errors are reported to Rollbar at {} (environment {}, code version {})", config.endpoint(),
                config.environment(), codeVersion);
        return Optional.of(reports);
    }

    /** Reports dropped since start because the queue was full. */
    public long dropped() {
        return dropped.get();
    }

    /** Reports Rollbar accepted. */
    public long delivered() {
        return delivered.get();
    }

    /** Reports whose post failed (refused, unreachable, timed out); they are not retried. */
    public long failed() {
        return failed.get();
    }

    @Override
    protected void append(ILoggingEvent event) {
        if (!event.getLevel().isGreaterOrEqual(Level.ERROR) || closing) {
            return;
        }
        String logger = event.getLoggerName();
        for (String own : OWN_LOGGERS) {
            if (logger != null && logger.startsWith(own)) {
                return;
            }
        }
        IThrowableProxy proxy = event.getThrowableProxy();
        Throwable error = proxy instanceof ThrowableProxy thrown ? thrown.getThrowable() : null;
        Report report = new Report(logger, event.getThreadName(), event.getMessage(), error, event.getMDCPropertyMap(),
                event.getKeyValuePairs());
        if (!queue.offer(report)) {
            dropped.incrementAndGet();
        }
    }

    private void drain() {
        long warnedDropped = 0;
        long warnedFailed = 0;
        long nextWarning = System.nanoTime();
        while (!closing || !queue.isEmpty()) {
            Report report;
            try {
                report = queue.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                if (closing) {
                    break;
                }
                continue;
            }
            if (report != null) {
                send(report);
            }
            long droppedNow = dropped.get();
            long failedNow = failed.get();
            if ((droppedNow > warnedDropped || failedNow > warnedFailed) && System.nanoTime() - nextWarning >= 0) {
                // WARN, never ERROR: an error here would be reported in turn.
                log.warn("Rollbar: {} error reports dropped (queue of {} full) and {} failed since start{}", droppedNow,
                        QUEUE_SIZE, failedNow, sender.lastOutcome().delivered() ? ""
                                : "; the latest post: " + sender.lastOutcome().problem());
                warnedDropped = droppedNow;
                warnedFailed = failedNow;
                nextWarning = System.nanoTime() + WARN_PERIOD.toNanos();
            }
        }
    }

    private void send(Report report) {
        try {
            Map<String, Object> custom = new LinkedHashMap<>();
            String route = null;
            String method = null;
            if (report.keyValues() != null) {
                for (KeyValuePair pair : report.keyValues()) {
                    if (KEY_VALUE_KEYS.contains(pair.key) && pair.value != null) {
                        custom.put(pair.key, String.valueOf(pair.value));
                        route = pair.key.equals("route") ? String.valueOf(pair.value) : route;
                        method = pair.key.equals("method") ? String.valueOf(pair.value) : method;
                    }
                }
            }
            if (report.mdc() != null) {
                for (String key : MDC_KEYS) {
                    String value = report.mdc().get(key);
                    if (value != null) {
                        custom.put(key, value);
                    }
                }
            }
            custom.put("logger", report.logger());
            custom.put("thread", report.thread());
            custom.put("silo_version", codeVersion);
            currentContext = route == null ? report.logger() : (method == null ? "" : method + " ") + route;
            String description = ErrorText.scrub(report.pattern());
            sender.expectSend();
            rollbar.log(report.error() == null ? null : ScrubbedThrowable.of(report.error()), custom, description,
                    com.rollbar.api.payload.data.Level.ERROR, false);
            if (sender.lastOutcome().delivered()) {
                delivered.incrementAndGet();
            } else {
                failed.incrementAndGet();
            }
        } catch (RuntimeException e) {
            failed.incrementAndGet();
        } finally {
            currentContext = null;
        }
    }

    /** Stops taking reports, posts those queued for at most {@code timeout}, and detaches from the root logger. */
    public void close(Duration timeout) {
        LoggerContext context = (LoggerContext) getContext();
        context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).detachAppender(this);
        closing = true;
        try {
            worker.join(timeout.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        worker.interrupt();
        stop();
        sender.close(false);
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(2));
    }

    private static String hostName() {
        // Once, at start: a DNS lookup per report would be on the worker anyway, but need not be repeated.
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
