package dev.silo.mail;

import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.MailConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code SILO_SMTP_URL} and its companions, checked at start (issue 19.1). */
class MailConfigTest {
    private static MailConfig config(String url) {
        return MailConfig.from(Map.of("SILO_SMTP_URL", url));
    }

    @Test
    void smtpRequiresStartTlsUnlessTheUrlSaysOtherwise() {
        MailConfig.Smtp smtp = config("smtp://apikey:p%40ss:word@smtp.example.com").smtp().orElseThrow();
        assertThat(smtp.security()).isEqualTo(MailConfig.Security.STARTTLS_REQUIRED);
        assertThat(smtp.port()).isEqualTo(587);
        assertThat(smtp.user()).contains("apikey");
        assertThat(smtp.password()).contains("p@ss:word");
        assertThat(smtp.display()).isEqualTo("smtp://smtp.example.com:587").doesNotContain("word");
        assertThat(smtp.toString()).doesNotContain("word");

        assertThat(config("smtps://smtp.example.com").smtp().orElseThrow().security()).isEqualTo(MailConfig.Security.IMPLICIT_TLS);
        assertThat(config("smtps://smtp.example.com").smtp().orElseThrow().port()).isEqualTo(465);
        assertThat(config("smtp://relay:25?starttls=optional").smtp().orElseThrow().security())
                .isEqualTo(MailConfig.Security.STARTTLS_OPTIONAL);
        assertThat(config("smtp://relay:25?starttls=off").smtp().orElseThrow().security()).isEqualTo(MailConfig.Security.PLAIN);
        assertThat(config("smtp://relay").platformFrom()).isEqualTo("no-reply@relay");
        assertThat(MailConfig.from(Map.of()).configured()).isFalse();
    }

    @Test
    void badSettingsStopTheStartNamingTheSettingButNotThePassword() {
        assertThatThrownBy(() -> config("http://user:hunter2@smtp.example.com")).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("SILO_SMTP_URL").hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> config("smtp://user:hunter2@smtp.example.com?starttls=maybe")).isInstanceOf(ConfigException.class)
                .hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> config("smtps://smtp.example.com?starttls=off")).isInstanceOf(ConfigException.class);
        assertThatThrownBy(() -> config("smtp:///nohost")).isInstanceOf(ConfigException.class);
        assertThatThrownBy(() -> MailConfig.from(Map.of("SILO_MAIL_FROM", "Evil <a@b.c>"))).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("SILO_MAIL_FROM");
        assertThatThrownBy(() -> MailConfig.from(Map.of("SILO_SMTP_CA", "/no/such/ca.pem"))).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("SILO_SMTP_CA");
        assertThatThrownBy(() -> MailConfig.from(Map.of("SILO_MAIL_RETRY_SECONDS", "0"))).isInstanceOf(ConfigException.class);
        assertThat(MailConfig.from(Map.of("SILO_MAIL_FROM", "hello@example.com")).defaultFrom()).isEqualTo(Optional.of("hello@example.com"));
    }

    @Test
    void retriesBackOffExponentiallyUpToAnHour() {
        java.time.Duration base = java.time.Duration.ofSeconds(30);
        assertThat(MailOutbox.backoff(base, 1)).hasSeconds(30);
        assertThat(MailOutbox.backoff(base, 2)).hasSeconds(60);
        assertThat(MailOutbox.backoff(base, 4)).hasSeconds(240);
        assertThat(MailOutbox.backoff(base, 30)).hasHours(1);
    }

    @Test
    void templateValuesAreEscapedForHtmlAndKeptOnOneLineInTheSubject() {
        MailTemplates.Template template = new MailTemplates.Template("Hi {{email}}", "{{email}}", "<p>{{email}}</p>");
        MailTemplates.Rendered rendered = MailTemplates.render(template, Map.of("email", "<script>\"x\"&'y'\r\nBcc: z"));
        assertThat(rendered.html()).isEqualTo("<p>&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;\r\nBcc: z</p>");
        assertThat(rendered.subject()).doesNotContain("\r").doesNotContain("\n");
        assertThat(rendered.text()).isEqualTo("<script>\"x\"&'y'\r\nBcc: z");
        // $ and \ in a value are text, not regex group references.
        assertThat(MailTemplates.render(template, Map.of("email", "a$1\\b")).text()).isEqualTo("a$1\\b");
    }
}
