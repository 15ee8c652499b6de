package dev.silo.platform.ratelimit;

import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.SiloConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The {@code RATE/UNIT[,BURST]} syntax of the rate-limit settings and the defaults (README "Rate limits"). */
class RateLimitSettingsTest {
    @Test
    void theSyntaxIsRatePerUnitWithAnOptionalBurst() {
        assertThat(RateLimit.parse("50/s,100")).contains(new RateLimit(50, Duration.ofSeconds(1), 100));
        assertThat(RateLimit.parse(" 1 / min , 5 ")).contains(new RateLimit(1, Duration.ofMinutes(1), 5));
        assertThat(RateLimit.parse("10/h")).contains(new RateLimit(10, Duration.ofHours(1), 10));
        assertThat(RateLimit.parse("OFF")).isEmpty();
        assertThat(RateLimit.parse("50/s,100").orElseThrow().spec()).isEqualTo("50/s,100");
        assertThat(RateLimit.parse("50/s,100").orElseThrow().windowSeconds()).isEqualTo(2);
        assertThat(RateLimit.parse("1/min,5").orElseThrow().windowSeconds()).isEqualTo(300);
        for (String bad : new String[] {"", "50", "50/day", "0/s", "5/s,0", "-1/s", "50/s,100,3", "fast"}) {
            assertThatThrownBy(() -> RateLimit.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("RATE/UNIT[,BURST]");
        }
    }

    @Test
    void defaultsAndBadSettingsNamedAtStart() {
        RateLimitConfig defaults = RateLimitConfig.from(Map.of());
        assertThat(defaults.ip()).contains(new RateLimit(50, Duration.ofSeconds(1), 100));
        assertThat(defaults.tenant()).contains(new RateLimit(200, Duration.ofSeconds(1), 400));
        assertThat(defaults.userWrite()).contains(new RateLimit(20, Duration.ofSeconds(1), 40));
        assertThat(defaults.auth()).contains(new RateLimit(5, Duration.ofSeconds(1), 20));
        assertThat(defaults.admin()).contains(new RateLimit(20, Duration.ofSeconds(1), 40));
        assertThat(defaults.redisUrl()).isEmpty();
        assertThat(RateLimitConfig.from(Map.of("SILO_RATE_LIMIT_TENANT", "off")).tenant()).isEmpty();

        assertThatThrownBy(() -> SiloConfig.resolve(SiloConfig.Flags.none(), Map.of("SILO_RATE_LIMIT_IP", "lots")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("SILO_RATE_LIMIT_IP: expected RATE/UNIT[,BURST]");
        assertThatThrownBy(() -> SiloConfig.resolve(SiloConfig.Flags.none(), Map.of("SILO_REDIS_URL", "http://cache:6379")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("SILO_REDIS_URL: expected redis://");
        // The URL may carry a password: never shown.
        RateLimitConfig withRedis = RateLimitConfig.from(Map.of("SILO_REDIS_URL", "redis://:s3cret-pass@cache:6379"));
        assertThat(withRedis.redisUrl()).isEqualTo(Optional.of("redis://:s3cret-pass@cache:6379"));
        assertThat(withRedis.toString()).doesNotContain("s3cret");
    }
}
