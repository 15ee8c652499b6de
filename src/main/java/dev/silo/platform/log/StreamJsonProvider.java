package dev.silo.platform.log;

import ch.qos.logback.classic.spi.ILoggingEvent;
import com.fasterxml.jackson.core.JsonGenerator;
import net.logstash.logback.composite.AbstractFieldJsonProvider;

import java.io.IOException;

/** Adds {@code "stream": "system" | "app" | "api"} to every JSON log line. */
public final class StreamJsonProvider extends AbstractFieldJsonProvider<ILoggingEvent> {
    public StreamJsonProvider() {
        setFieldName("stream");
    }

    @Override
    public void writeTo(JsonGenerator generator, ILoggingEvent event) throws IOException {
        generator.writeStringField(getFieldName(), LogStreams.of(event.getLoggerName()));
    }
}
