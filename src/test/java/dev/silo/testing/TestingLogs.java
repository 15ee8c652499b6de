package dev.silo.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.encoder.Encoder;
import net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Captures every log line of the test run, encoded exactly as the JSON appender writes it, so tests can
 * assert on the log streams and scan them for secrets.
 */
public final class TestingLogs {
    /**
     * Guarded by itself. Not a CopyOnWriteArrayList: that copied the whole run's lines (tens of thousands) at every
     * line logged, while readers take a copy anyway.
     */
    private static final List<String> LINES = new ArrayList<>();
    private static volatile boolean installed;

    private TestingLogs() {}

    public static synchronized void install() {
        if (installed) {
            return;
        }
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        @SuppressWarnings("unchecked")
        var json = (ch.qos.logback.core.OutputStreamAppender<ILoggingEvent>) root.getAppender("json");
        Encoder<ILoggingEvent> encoder = json != null ? json.getEncoder() : new LoggingEventCompositeJsonEncoder();
        AppenderBase<ILoggingEvent> capture = new AppenderBase<>() {
            @Override
            protected void append(ILoggingEvent event) {
                String line = new String(encoder.encode(event), StandardCharsets.UTF_8).strip();
                synchronized (LINES) {
                    LINES.add(line);
                }
            }
        };
        capture.setContext(context);
        capture.setName("test-capture");
        capture.start();
        root.addAppender(capture);
        // The api stream does not reach root (logback.xml writes it through its own asynchronous appender).
        context.getLogger("silo.api").addAppender(capture);
        installed = true;
    }

    public static List<String> lines() {
        install();
        synchronized (LINES) {
            return List.copyOf(LINES);
        }
    }
}
