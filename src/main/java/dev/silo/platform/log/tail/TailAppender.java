package dev.silo.platform.log.tail;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import dev.silo.platform.http.RequestTenant;
import dev.silo.platform.log.LogStreams;

import java.util.Map;

/**
 * Feeds {@link LogTail#global()} from logback: on the root logger for the {@code app} and {@code system} streams,
 * and behind the {@code api} stream's asynchronous appender (so a request pays nothing for the tail).
 */
public final class TailAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {
    @Override
    protected void append(ILoggingEvent event) {
        String message = event.getFormattedMessage();
        Map<String, String> mdc = event.getMDCPropertyMap();
        IThrowableProxy error = event.getThrowableProxy();
        String stream = LogStreams.of(event.getLoggerName());
        LogTail.global().append(seq -> new TailLine(seq, event.getTimeStamp(), event.getLevel().toString(), stream,
                event.getLoggerName(), message, mdc.isEmpty() ? null : mdc, event.getKeyValuePairs(),
                error == null ? null : error.getClassName(), error == null ? null : error.getMessage(),
                mdc.get(RequestTenant.SLUG_KEY)));
    }
}
