package dev.silo.auth.mfa;

import dev.silo.auth.TestingClock;
import org.apache.commons.codec.binary.Base32;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** RFC 6238 codes, the skew window, replay and the recovery codes, with a clock that stands still. */
class TotpTest {
    /** The SHA-1 seed of RFC 6238 appendix B: the ASCII of "12345678901234567890". */
    private static final byte[] RFC_SECRET = "12345678901234567890".getBytes(StandardCharsets.US_ASCII);

    @Test
    void theCodesAreThoseOfTheRfc6238TestVectorsForSha1() {
        // Appendix B gives 8 digits; a 6-digit code is the same truncation modulo 10^6: the last six of them.
        Object[][] vectors = {
                {59L, "94287082"}, {1111111109L, "07081804"}, {1111111111L, "14050471"},
                {1234567890L, "89005924"}, {2000000000L, "69279037"}, {20000000000L, "65353130"},
        };
        for (Object[] vector : vectors) {
            TestingClock clock = new TestingClock(Instant.ofEpochSecond((Long) vector[0]));
            String expected = ((String) vector[1]).substring(2);
            assertThat(Totp.code(RFC_SECRET, Totp.step(clock.instant()))).as("T=%s", vector[0]).isEqualTo(expected);
            assertThat(Totp.check(RFC_SECRET, expected, clock.instant(), null)).isInstanceOf(Totp.Accepted.class);
        }
        // The step of T=59 is 1 (RFC 6238 table: T = 0000000000000001).
        assertThat(Totp.step(Instant.ofEpochSecond(59))).isEqualTo(1);
    }

    @Test
    void oneStepOfSkewIsAcceptedEachWayAndTwoAreNot() {
        TestingClock clock = new TestingClock(Instant.ofEpochSecond(1111111111L));
        long now = Totp.step(clock.instant());
        for (long step : new long[] {now - 1, now, now + 1}) {
            assertThat(Totp.check(RFC_SECRET, Totp.code(RFC_SECRET, step), clock.instant(), null))
                    .isEqualTo(new Totp.Accepted(step));
        }
        for (long step : new long[] {now - 2, now + 2}) {
            assertThat(Totp.check(RFC_SECRET, Totp.code(RFC_SECRET, step), clock.instant(), null)).isInstanceOf(Totp.Wrong.class);
        }
        // 30 seconds later the code of the old current step is the one behind: still accepted, once more step and not.
        String code = Totp.code(RFC_SECRET, now);
        clock.advance(Duration.ofSeconds(30));
        assertThat(Totp.check(RFC_SECRET, code, clock.instant(), null)).isEqualTo(new Totp.Accepted(now));
        clock.advance(Duration.ofSeconds(30));
        assertThat(Totp.check(RFC_SECRET, code, clock.instant(), null)).isInstanceOf(Totp.Wrong.class);
    }

    @Test
    void aCodeOfAStepAlreadyUsedIsAReplayAndRefused() {
        Instant at = Instant.ofEpochSecond(1234567890L);
        long now = Totp.step(at);
        String current = Totp.code(RFC_SECRET, now);
        assertThat(Totp.check(RFC_SECRET, current, at, now)).isEqualTo(new Totp.Replayed(now));
        assertThat(Totp.check(RFC_SECRET, Totp.code(RFC_SECRET, now - 1), at, now)).isEqualTo(new Totp.Replayed(now - 1));
        // A later step than the last used one is fine.
        assertThat(Totp.check(RFC_SECRET, Totp.code(RFC_SECRET, now + 1), at, now)).isEqualTo(new Totp.Accepted(now + 1));
    }

    @Test
    void onlySixDigitsAreACodeSpacesBetweenThemAllowed() {
        Instant at = Instant.ofEpochSecond(1234567890L);
        String code = Totp.code(RFC_SECRET, Totp.step(at));
        assertThat(Totp.check(RFC_SECRET, code.substring(0, 3) + " " + code.substring(3), at, null))
                .isInstanceOf(Totp.Accepted.class);
        for (String bad : new String[] {null, "", "12345", "1234567", "12345a", "１２３４５６", "-12345", code + "0"}) {
            assertThat(Totp.check(RFC_SECRET, bad, at, null)).as("%s", bad).isInstanceOf(Totp.Wrong.class);
        }
    }

    @Test
    void aNewSecretIs160BitsInBase32AndTheUriIsWhatAuthenticatorAppsRead() {
        byte[] secret = Totp.newSecret();
        assertThat(secret).hasSize(20);
        String base32 = Totp.base32(secret);
        assertThat(base32).hasSize(32).matches("[A-Z2-7]{32}");
        assertThat(new Base32().decode(base32)).isEqualTo(secret);
        assertThat(Totp.newSecret()).isNotEqualTo(secret);

        String uri = Totp.uri("Acme & Co", "zoë@example.com", secret);
        URI parsed = URI.create(uri);
        assertThat(parsed.getScheme()).isEqualTo("otpauth");
        assertThat(parsed.getHost()).isEqualTo("totp");
        assertThat(parsed.getPath()).isEqualTo("/Acme & Co:zoë@example.com");
        assertThat(parsed.getRawQuery()).isEqualTo("secret=" + base32 + "&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=6&period=30");
    }

    @Test
    void tenRecoveryCodesOf80BitsInGroupsOfFourMatchedWhateverTheDashesAndCase() {
        List<String> codes = RecoveryCodes.generate();
        assertThat(codes).hasSize(10);
        assertThat(new HashSet<>(codes)).hasSize(10);
        for (String code : codes) {
            assertThat(code).matches("[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}");
            String typed = code.toLowerCase().replace("-", " ");
            assertThat(RecoveryCodes.hash(typed)).isEqualTo(RecoveryCodes.hash(code));
            assertThat(RecoveryCodes.hash(code)).doesNotContain(code.replace("-", "")).hasSize(64);
        }
        assertThat(RecoveryCodes.normalize("ABCD-EFGH-IJKL-MNO")).isEmpty();
        assertThat(RecoveryCodes.normalize("ABCD-EFGH-IJKL-MNO1")).isEmpty(); // 1 is not base32
        assertThat(RecoveryCodes.normalize(null)).isEmpty();
    }
}
