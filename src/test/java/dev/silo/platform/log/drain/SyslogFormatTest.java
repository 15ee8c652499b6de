package dev.silo.platform.log.drain;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The RFC 5424 header, the escaping of structured data (§6.3.3) and RFC 6587 octet counting. */
class SyslogFormatTest {
    private final LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();

    private LoggingEvent event(String logger, Level level, Map<String, String> mdc) {
        LoggingEvent event = new LoggingEvent(logger, context.getLogger(logger), level, "héllo", null, null);
        event.setInstant(Instant.parse("2026-12-03T10:15:30.123456Z"));
        event.setMDCPropertyMap(mdc);
        return event;
    }

    @Test
    void theHeaderCarriesSeverityTimestampHostStreamAndRequestId() {
        SyslogFormat format = new SyslogFormat("web.1");
        byte[] line = format.format(event("silo.api", Level.WARN, Map.of("request_id", "abc-123")), "{\"m\":1}".getBytes());
        assertThat(new String(line, StandardCharsets.UTF_8))
                .isEqualTo("<132>1 2026-12-03T10:15:30.123Z web.1 silo api - [silo@32473 request_id=\"abc-123\"] {\"m\":1}");
        byte[] system = format.format(event("dev.silo.platform.db.Pools", Level.ERROR, Map.of()), "{}".getBytes());
        assertThat(new String(system, StandardCharsets.UTF_8)).isEqualTo("<131>1 2026-12-03T10:15:30.123Z web.1 silo system - - {}");
        byte[] app = format.format(event("dev.silo.tenant.TenantService", Level.DEBUG, Map.of()), "{}".getBytes());
        assertThat(new String(app, StandardCharsets.UTF_8)).startsWith("<135>1 ").contains(" silo app - - ");
    }

    @Test
    void quotesBackslashesAndClosingBracketsAreEscapedInParamValues() {
        assertThat(SyslogFormat.escapeParamValue("a\"b\\c]d[e")).isEqualTo("a\\\"b\\\\c\\]d[e");
        SyslogFormat format = new SyslogFormat("h");
        String line = new String(format.format(event("silo.api", Level.INFO, Map.of("request_id", "x\"] [evil@1 a=\"b")),
                "{}".getBytes()), StandardCharsets.UTF_8);
        assertThat(line).contains("[silo@32473 request_id=\"x\\\"\\] [evil@1 a=\\\"b\"] {}");
        assertThat(LogDrainsTest.RFC5424.matcher(line).matches()).isTrue();
    }

    @Test
    void framesCountBytesNotCharacters() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SyslogFormat.frame(out, "é€".getBytes(StandardCharsets.UTF_8));
        SyslogFormat.frame(out, "ab".getBytes(StandardCharsets.UTF_8));
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("5 é€2 ab");
    }
}
