package dev.silo.platform.log.drain;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Context;
import dev.silo.platform.log.StreamJsonProvider;
import net.logstash.logback.composite.loggingevent.KeyValuePairsJsonProvider;
import net.logstash.logback.composite.loggingevent.LogLevelJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggerNameJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggingEventFormattedTimestampJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggingEventJsonProviders;
import net.logstash.logback.composite.loggingevent.MdcJsonProvider;
import net.logstash.logback.composite.loggingevent.MessageJsonProvider;
import net.logstash.logback.composite.loggingevent.StackTraceJsonProvider;
import net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder;
import net.logstash.logback.stacktrace.ShortenedThrowableConverter;

/**
 * The JSON line of an event exactly as {@code logback.xml}'s {@code json} appender writes it to stdout (the same
 * providers in the same order), whatever {@code SILO_LOG_FORMAT} the console uses: a drain's reader parses JSON.
 * Built here rather than taken from that appender because with {@code SILO_LOG_FORMAT=text} it does not exist.
 */
final class DrainJson {
    private DrainJson() {}

    static LoggingEventCompositeJsonEncoder encoder(Context context) {
        LoggingEventJsonProviders providers = new LoggingEventJsonProviders();
        LoggingEventFormattedTimestampJsonProvider time = new LoggingEventFormattedTimestampJsonProvider();
        time.setFieldName("time");
        time.setTimeZone("UTC");
        providers.addTimestamp(time);
        LogLevelJsonProvider level = new LogLevelJsonProvider();
        level.setFieldName("level");
        providers.addLogLevel(level);
        providers.addProvider(new StreamJsonProvider());
        LoggerNameJsonProvider logger = new LoggerNameJsonProvider();
        logger.setFieldName("logger");
        logger.setShortenedLoggerNameLength(36);
        providers.addLoggerName(logger);
        providers.addMessage(new MessageJsonProvider());
        providers.addMdc(new MdcJsonProvider());
        providers.addKeyValuePairs(new KeyValuePairsJsonProvider());
        ShortenedThrowableConverter throwables = new ShortenedThrowableConverter();
        throwables.setMaxDepthPerThrowable(30);
        throwables.setRootCauseFirst(true);
        StackTraceJsonProvider stackTrace = new StackTraceJsonProvider();
        stackTrace.setThrowableConverter(throwables);
        providers.addStackTrace(stackTrace);

        LoggingEventCompositeJsonEncoder encoder = new LoggingEventCompositeJsonEncoder();
        encoder.setContext(context);
        encoder.setProviders(providers);
        encoder.start();
        return encoder;
    }

    /** The line without its line break: in a syslog frame the octet count delimits it. */
    static byte[] line(LoggingEventCompositeJsonEncoder encoder, ILoggingEvent event) {
        byte[] encoded = encoder.encode(event);
        int end = encoded.length;
        while (end > 0 && (encoded[end - 1] == '\n' || encoded[end - 1] == '\r')) {
            end--;
        }
        return end == encoded.length ? encoded : java.util.Arrays.copyOf(encoded, end);
    }
}
