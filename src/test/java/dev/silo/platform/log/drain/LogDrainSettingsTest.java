package dev.silo.platform.log.drain;

import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.LogDrainSettings;
import dev.silo.platform.config.SiloConfig;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code SILO_LOG_DRAINS} and its neighbours are checked at start, with errors that never echo a credential. */
class LogDrainSettingsTest {
    private static final String SECRET = "hunter2-drain-secret";

    private static SiloConfig resolve(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(extra);
        env.put("SILO_DATA_DIR", TestingSilo.newDataDir("drain-config").toString());
        return SiloConfig.resolve(SiloConfig.Flags.none(), env);
    }

    private static LogDrainSettings drains(String value) {
        return resolve(Map.of("SILO_LOG_DRAINS", value)).logDrains();
    }

    @Test
    void noSettingMeansNoDrain() {
        assertThat(resolve(Map.of()).logDrains().drains()).isEmpty();
        assertThat(drains(" ").drains()).isEmpty();
    }

    @Test
    void theThreeKindsAreParsedInOrder() {
        LogDrainSettings settings = drains("syslog+tls://logs.example.com:6514, syslog://10.0.0.5:514,"
                + "https://user:" + SECRET + "@logs.example.com/silo?token=" + SECRET);
        assertThat(settings.drains()).extracting(LogDrainSettings.Drain::transport).containsExactly(
                LogDrainSettings.Transport.SYSLOG_TLS, LogDrainSettings.Transport.SYSLOG_TCP, LogDrainSettings.Transport.HTTPS);
        assertThat(settings.drains()).extracting(LogDrainSettings.Drain::display).containsExactly(
                "syslog+tls://logs.example.com:6514", "syslog://10.0.0.5:514", "https://logs.example.com:443");
        assertThat(settings.drains().toString()).doesNotContain(SECRET);
        assertThat(settings.queueLines()).isEqualTo(10_000);
    }

    @Test
    void theHostnameIsSiloHostnameThenDyno() {
        assertThat(resolve(Map.of("DYNO", "web.1")).logDrains().hostname()).isEqualTo("web.1");
        assertThat(resolve(Map.of("DYNO", "web.1", "SILO_HOSTNAME", "node a")).logDrains().hostname()).isEqualTo("node_a");
    }

    @Test
    void badUrlsAreRefusedNamingTheSettingAndNeverTheCredentials() {
        Map<String, String> cases = Map.of(
                "syslog+tls://logs.example.com", "has no port",
                "syslog://logs.example.com", "has no port",
                "ftp://" + SECRET + "@logs.example.com:21", "unsupported scheme 'ftp'",
                "http://u:" + SECRET + "@logs.example.com/x", "plain http",
                "logs.example.com:6514", "has no scheme",
                "syslog+tls://u:" + SECRET + "@logs.example.com:6514", "has a user, path or query",
                "syslog+tls://logs.example.com:99999", "port out of range",
                "https://u:" + SECRET + "@logs example.com/x", "is not a URL",
                "syslog+tls://logs.example.com:65x", "no host");
        cases.forEach((value, expected) -> assertThatThrownBy(() -> drains("syslog://ok.example.com:514," + value))
                .as(value)
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("SILO_LOG_DRAINS: drain 2")
                .hasMessageContaining(expected)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET)));
    }

    @Test
    void theCaFileMustHoldACertificate() throws Exception {
        Path dir = TestingSilo.newDataDir("drain-ca");
        Path empty = Files.writeString(dir.resolve("empty.pem"), "not a certificate\n");
        assertThatThrownBy(() -> resolve(Map.of("SILO_LOG_DRAINS_CA", empty.toString())))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("SILO_LOG_DRAINS_CA:");
        assertThatThrownBy(() -> resolve(Map.of("SILO_LOG_DRAINS_CA", dir.resolve("missing.pem").toString())))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cannot read");
        assertThatThrownBy(() -> resolve(Map.of("SILO_LOG_DRAINS_QUEUE", "10")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("SILO_LOG_DRAINS_QUEUE:");
    }
}
