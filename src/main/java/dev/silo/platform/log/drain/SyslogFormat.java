package dev.silo.platform.log.drain;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import dev.silo.platform.http.RequestIds;
import dev.silo.platform.log.LogStreams;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * One log line as an RFC 5424 syslog message:
 * {@code <PRI>1 TIMESTAMP HOSTNAME silo STREAM - [silo@32473 request_id="..."] {"time":...}}.
 *
 * <ul>
 *   <li>PRI: facility {@code local0} (16), the first of the local facilities Heroku's own lines use, with the
 *       severity from the level (ERROR 3, WARN 4, INFO 6, DEBUG and TRACE 7);</li>
 *   <li>TIMESTAMP: RFC 3339 in UTC with milliseconds;</li>
 *   <li>APP-NAME {@code silo}; PROCID the stream ({@code api}, {@code app}, {@code system}); MSGID {@code -};</li>
 *   <li>STRUCTURED-DATA {@code [silo@32473 request_id="..."]} when the line belongs to a request, else {@code -}
 *       (32473 is the private enterprise number RFC 5612 reserves for examples: Silo has none of its own);</li>
 *   <li>MSG: the JSON line stdout gets, as MSG-ANY (no byte order mark, like Heroku's lines: JSON parsers
 *       downstream would choke on one). It is UTF-8.</li>
 * </ul>
 */
final class SyslogFormat {
    static final int FACILITY_LOCAL0 = 16;
    static final String APP_NAME = "silo";
    static final String SD_ID = "silo@32473";
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSXXX")
            .withZone(ZoneOffset.UTC);

    private final String hostname;

    SyslogFormat(String hostname) {
        this.hostname = requireNonNull(hostname, "hostname is null");
    }

    /** RFC 5424 §6.2.1 severities. */
    static int severity(Level level) {
        return switch (level.toInt()) {
            case Level.ERROR_INT -> 3;
            case Level.WARN_INT -> 4;
            case Level.INFO_INT -> 6;
            default -> 7;
        };
    }

    /** The whole SYSLOG-MSG of {@code event}, with {@code message} (the JSON line, no line break) as MSG. */
    byte[] format(ILoggingEvent event, byte[] message) {
        StringBuilder header = new StringBuilder(128);
        header.append('<').append(FACILITY_LOCAL0 * 8 + severity(event.getLevel())).append(">1 ")
                .append(TIMESTAMP.format(event.getInstant())).append(' ')
                .append(hostname).append(' ')
                .append(APP_NAME).append(' ')
                .append(LogStreams.of(event.getLoggerName())).append(' ')
                .append("- ");
        Map<String, String> mdc = event.getMDCPropertyMap();
        String requestId = mdc == null ? null : mdc.get(RequestIds.MDC_KEY);
        if (requestId == null) {
            header.append('-');
        } else {
            header.append('[').append(SD_ID).append(" request_id=\"").append(escapeParamValue(requestId)).append("\"]");
        }
        header.append(' ');
        byte[] head = header.toString().getBytes(StandardCharsets.UTF_8);
        byte[] line = new byte[head.length + message.length];
        System.arraycopy(head, 0, line, 0, head.length);
        System.arraycopy(message, 0, line, head.length, message.length);
        return line;
    }

    /** RFC 5424 §6.3.3: inside PARAM-VALUE, {@code "}, {@code \} and {@code ]} are escaped with a backslash. */
    static String escapeParamValue(String value) {
        StringBuilder escaped = new StringBuilder(value.length() + 8);
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\' || c == ']') {
                escaped.append('\\');
            }
            escaped.append(c);
        }
        return escaped.toString();
    }

    /** RFC 6587 §3.4.1 octet counting: {@code MSG-LEN SP SYSLOG-MSG}, the length in bytes, no trailer. */
    static void frame(ByteArrayOutputStream out, byte[] message) {
        out.writeBytes(Integer.toString(message.length).getBytes(StandardCharsets.US_ASCII));
        out.write(' ');
        out.writeBytes(message);
    }
}
