package dev.silo.platform;

import dev.silo.app.Main;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.config.SiloConfig;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigTest {
    private record Run(int code, String out, String err) {}

    private static Run silo(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void portThatIsNotANumberExitsTwoWithOneLineNamingTheSetting() {
        Run run = silo(Map.of("SILO_DATA_DIR", TestingSilo.newDataDir("cfg").toString()), "serve", "--port", "abc");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err()).contains("--port").contains("expected a port number from 0 to 65535").contains("'abc'");
    }

    @Test
    void portFromEnvironmentIsValidatedToo() {
        Run run = silo(Map.of("PORT", "70000", "SILO_DATA_DIR", TestingSilo.newDataDir("cfg").toString()), "serve");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).startsWith("silo: PORT: expected a port number");
    }

    @Test
    void unwritableDataDirExitsTwo() throws Exception {
        Path file = Files.createTempFile(TestingSilo.newDataDir("cfg"), "plain", ".txt");
        Run run = silo(Map.of("SILO_DATA_DIR", file.resolve("sub").toString()), "serve");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err().strip().lines()).hasSize(1);
        assertThat(run.err()).startsWith("silo: SILO_DATA_DIR: cannot create directory");
    }

    @Test
    void malformedMasterKeyExitsTwoWithoutEchoingIt() {
        Run run = silo(Map.of("SILO_MASTER_KEY", "not-a-key-but-a-secret!!", "SILO_DATA_DIR", TestingSilo.newDataDir("cfg").toString()), "serve");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).startsWith("silo: SILO_MASTER_KEY: ").doesNotContain("not-a-key-but-a-secret");
        assertThat(run.err().strip().lines()).hasSize(1);
    }

    @Test
    void aDataDirectoryCreatedWithAKeyFromTheEnvironmentIsNotGivenANewOneByACommandRunWithoutIt() throws Exception {
        // What a node started with SILO_MASTER_KEY leaves: its state wrapped by that key, no key file.
        Path dataDir = TestingSilo.newDataDir("cfg-envkey");
        Files.createDirectories(dataDir.resolve("postgres"));
        Files.writeString(dataDir.resolve("postgres").resolve("superuser.wrapped"), "wrapped-by-the-env-key");
        Files.createDirectories(dataDir.resolve("postgres").resolve("data"));
        Files.writeString(dataDir.resolve("postgres").resolve("data").resolve("PG_VERSION"), "17\n");
        for (String[] command : new String[][] {{"tenants", "list"}, {"serve"}}) {
            Run run = silo(Map.of("SILO_DATA_DIR", dataDir.toString()), command);
            assertThat(run.code()).as(run.err()).isEqualTo(2);
            assertThat(run.err()).startsWith("silo: SILO_MASTER_KEY: the data directory").contains("set SILO_MASTER_KEY");
        }
        assertThat(dataDir.resolve("master.key")).as("no key that opens nothing is left behind").doesNotExist();
    }

    @Test
    void masterKeyMayBeHexAsHerokuGeneratesIt() {
        SiloConfig config = SiloConfig.resolve(SiloConfig.Flags.none(), Map.of(
                "SILO_MASTER_KEY", "ab".repeat(32), "SILO_DATA_DIR", TestingSilo.newDataDir("cfg").toString()));
        assertThat(dev.silo.platform.config.MasterKeyFormat.decode("SILO_MASTER_KEY", config.masterKey().orElseThrow())).hasSize(32);
    }

    @Test
    void masterKeyOfWrongLengthIsRefused() {
        assertThatThrownBy(() -> SiloConfig.resolve(SiloConfig.Flags.none(), Map.of(
                "SILO_MASTER_KEY", "c2hvcnQ=", "SILO_DATA_DIR", TestingSilo.newDataDir("cfg").toString())))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("decodes to 5 bytes; expected exactly 32");
    }

    @Test
    void externalDatabaseWithoutTlsIsRefused() {
        Run run = silo(Map.of("DATABASE_URL", "postgres://u:secretpw@db.example.com:5432/app?sslmode=disable",
                "SILO_DATA_DIR", TestingSilo.newDataDir("cfg").toString()), "serve");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains("DATABASE_URL: sslmode=disable is not allowed").doesNotContain("secretpw");
    }

    @Test
    void externalDatabaseNeedsAMasterKey() {
        Run run = silo(Map.of("DATABASE_URL", "postgres://u:secretpw@db.example.com:5432/app",
                "SILO_DATA_DIR", TestingSilo.newDataDir("cfg").toString()), "serve");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).startsWith("silo: SILO_MASTER_KEY: required with an external database");
    }

    @Test
    void herokuDatabaseUrlIsParsedAndDefaultsToRequire() {
        DatabaseUrl url = DatabaseUrl.parse("DATABASE_URL", "postgres://uabc:p%40ss@ec2-1-2-3-4.eu-west-1.compute.amazonaws.com:5432/d9x");
        assertThat(url.host()).isEqualTo("ec2-1-2-3-4.eu-west-1.compute.amazonaws.com");
        assertThat(url.port()).isEqualTo(5432);
        assertThat(url.database()).isEqualTo("d9x");
        assertThat(url.user()).isEqualTo("uabc");
        assertThat(url.password()).isEqualTo("p@ss");
        assertThat(url.sslMode()).isEqualTo("require");
        assertThat(url.jdbcUrl()).isEqualTo("jdbc:postgresql://ec2-1-2-3-4.eu-west-1.compute.amazonaws.com:5432/d9x");
        assertThat(url.toString()).doesNotContain("p@ss");
    }

    @Test
    void jdbcFormIsAcceptedToo() {
        DatabaseUrl url = DatabaseUrl.parse("SILO_DATABASE_URL", "jdbc:postgresql://127.0.0.1/cat?user=silo&password=x&sslmode=verify-full");
        assertThat(url.user()).isEqualTo("silo");
        assertThat(url.port()).isEqualTo(5432);
        assertThat(url.sslMode()).isEqualTo("verify-full");
    }

    @Test
    void flagsOverrideEnvironmentWhichOverridesDefaults() {
        Path dir = TestingSilo.newDataDir("cfg");
        SiloConfig defaults = SiloConfig.resolve(new SiloConfig.Flags(null, dir.toString(), null, null), Map.of());
        assertThat(defaults.port()).isEqualTo(8080);
        assertThat(defaults.embedded()).isTrue();
        SiloConfig fromEnv = SiloConfig.resolve(new SiloConfig.Flags(null, dir.toString(), null, null), Map.of("PORT", "5000"));
        assertThat(fromEnv.port()).isEqualTo(5000);
        SiloConfig fromFlag = SiloConfig.resolve(new SiloConfig.Flags("6000", dir.toString(), null, null), Map.of("PORT", "5000", "SILO_PORT", "5001"));
        assertThat(fromFlag.port()).isEqualTo(6000);
        SiloConfig siloOverHeroku = SiloConfig.resolve(new SiloConfig.Flags(null, dir.toString(), null, null), Map.of("PORT", "5000", "SILO_PORT", "5001"));
        assertThat(siloOverHeroku.port()).isEqualTo(5001);
    }

    @Test
    void metricsSettingsAreValidatedNamingTheSetting() {
        String dir = TestingSilo.newDataDir("cfg").toString();
        SiloConfig defaults = SiloConfig.resolve(new SiloConfig.Flags(null, dir, null, null), Map.of());
        assertThat(defaults.tuning().metrics().port()).isEmpty();
        assertThat(defaults.tuning().metrics().tenantLabels()).isFalse();
        SiloConfig set = SiloConfig.resolve(new SiloConfig.Flags(null, dir, null, null),
                Map.of("SILO_METRICS_PORT", "9464", "SILO_METRICS_TENANT_LABELS", "true"));
        assertThat(set.tuning().metrics().port()).hasValue(9464);
        assertThat(set.tuning().metrics().tenantLabels()).isTrue();
        assertThat(SiloConfig.resolve(new SiloConfig.Flags(null, dir, null, null), Map.of("SILO_METRICS_PORT", "off"))
                .tuning().metrics().port()).isEmpty();
        for (String bad : new String[] {"abc", "-1", "70000", "9464x"}) {
            assertThatThrownBy(() -> SiloConfig.resolve(new SiloConfig.Flags(null, dir, null, null), Map.of("SILO_METRICS_PORT", bad)))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("SILO_METRICS_PORT: expected a port number from 0 to 65535")
                    .hasMessageContaining("'" + bad + "'");
        }
        assertThatThrownBy(() -> SiloConfig.resolve(new SiloConfig.Flags(null, dir, null, null),
                Map.of("SILO_PORT", "9000", "SILO_METRICS_PORT", "9000")))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("SILO_METRICS_PORT: must differ from the HTTP port 9000");
        assertThatThrownBy(() -> SiloConfig.resolve(new SiloConfig.Flags(null, dir, null, null),
                Map.of("SILO_METRICS_TENANT_LABELS", "yes")))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("SILO_METRICS_TENANT_LABELS: expected true or false, got 'yes'");
        Run run = silo(Map.of("SILO_METRICS_PORT", "nine", "SILO_DATA_DIR", dir), "serve");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).startsWith("silo: SILO_METRICS_PORT: expected a port number");
    }

    @Test
    void badPublicUrlIsRefused() {
        assertThatThrownBy(() -> SiloConfig.resolve(new SiloConfig.Flags(null, TestingSilo.newDataDir("cfg").toString(), null, "ftp://x"), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("--public-url: expected an absolute http(s) URL");
    }

    @Test
    void unknownOptionIsAUsageErrorWithExitTwo() {
        Run run = silo(Map.of(), "serve", "--no-such-flag");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains("Unknown option: '--no-such-flag'");
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : new String[] {"serve", "version", "restore"}) {
            Run run = silo(Map.of(), command, "--help");
            assertThat(run.code()).isZero();
            assertThat(run.out()).startsWith("Usage: silo " + command);
        }
        Run root = silo(Map.of(), "--help");
        assertThat(root.out()).contains("serve").contains("version").contains("backups").contains("restore");
        Run backups = silo(Map.of(), "backups", "--help");
        assertThat(backups.out()).contains("create").contains("status");
    }
}
