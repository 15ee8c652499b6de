package dev.silo.platform.log.tail;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.silo.platform.errors.ErrorText;
import dev.silo.platform.http.Json;
import org.slf4j.event.KeyValuePair;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One log line as the tail keeps it: the fields the logging thread already has (the formatted message is computed
 * once by logback and cached), rendered to JSON only when a tail client reads it.
 *
 * @param seq    the line's number since the process started; ids of the SSE events
 * @param tenant the tenant slug from the logging context ({@code tenant}), when the line was logged while serving a
 *               tenant's request; else null
 */
public record TailLine(long seq, long epochMillis, String level, String stream, String logger, String message,
                       Map<String, String> mdc, List<KeyValuePair> keyValues, String errorClass, String errorMessage,
                       String tenant) {

    /** The line as one JSON object, in the field names of the JSON log on stdout. */
    public String json() {
        try {
            return Json.MAPPER.writeValueAsString(fields());
        } catch (JsonProcessingException e) {
            return "{\"message\":\"(a log line that cannot be rendered as JSON)\"}";
        }
    }

    /** The fields of {@link #json()}. */
    public Map<String, Object> fields() {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("time", Instant.ofEpochMilli(epochMillis).toString());
        line.put("level", level);
        line.put("stream", stream);
        line.put("logger", logger);
        line.put("message", message);
        if (mdc != null) {
            mdc.forEach(line::putIfAbsent);
        }
        if (keyValues != null) {
            for (KeyValuePair pair : keyValues) {
                line.putIfAbsent(pair.key, pair.value);
            }
        }
        if (errorClass != null) {
            // The class and the scrubbed first line of the message; the stack trace stays in the log on stdout.
            line.put("error", errorMessage == null ? errorClass : errorClass + ": " + ErrorText.scrub(errorMessage));
        }
        return line;
    }
}
