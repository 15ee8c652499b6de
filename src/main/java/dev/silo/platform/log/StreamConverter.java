package dev.silo.platform.log;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/** {@code %stream} in the text log pattern. */
public final class StreamConverter extends ClassicConverter {
    @Override
    public String convert(ILoggingEvent event) {
        return LogStreams.of(event.getLoggerName());
    }
}
