package dev.silo.auth;

import dev.silo.auth.OpaqueTokens.Kind;
import org.junit.jupiter.api.Test;

import java.util.Base64;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class OpaqueTokensTest {
    @Test
    void tokensCarryAPrefixAnd256RandomBits() {
        String refresh = OpaqueTokens.generate(Kind.REFRESH);
        assertThat(refresh).startsWith("srt_").hasSize(47).doesNotContain("=");
        assertThat(Base64.getUrlDecoder().decode(refresh.substring(4))).hasSize(32);
        assertThat(OpaqueTokens.generate(Kind.PASSWORD_RESET)).startsWith("spr_").hasSize(47);
        Set<String> many = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            many.add(OpaqueTokens.generate(Kind.REFRESH));
        }
        assertThat(many).hasSize(1000);
    }

    @Test
    void onlyTheSha256IsStoredAndItMatches() {
        String token = OpaqueTokens.generate(Kind.REFRESH);
        String hash = OpaqueTokens.hash(token);
        assertThat(hash).hasSize(64).matches("[0-9a-f]{64}").doesNotContain(token.substring(4, 20));
        assertThat(OpaqueTokens.hash(token)).isEqualTo(hash);
        assertThat(OpaqueTokens.matches(token, hash)).isTrue();
        assertThat(OpaqueTokens.matches(OpaqueTokens.generate(Kind.REFRESH), hash)).isFalse();
        // Known answer: SHA-256("abc").
        assertThat(OpaqueTokens.hash("abc")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    @Test
    void resetTokenPresentedAsRefreshTokenIsNotWellFormed() {
        String reset = OpaqueTokens.generate(Kind.PASSWORD_RESET);
        assertThat(OpaqueTokens.isWellFormed(Kind.PASSWORD_RESET, reset)).isTrue();
        assertThat(OpaqueTokens.isWellFormed(Kind.REFRESH, reset)).isFalse();
    }

    @Test
    void garbageIsNotWellFormed() {
        String refresh = OpaqueTokens.generate(Kind.REFRESH);
        assertThat(OpaqueTokens.isWellFormed(Kind.REFRESH, refresh)).isTrue();
        for (String garbage : new String[] {null, "", "srt_", refresh + "A", refresh.substring(0, 46),
                refresh.substring(0, 46) + "=", "SRT_" + refresh.substring(4), "srt_" + "'".repeat(43)}) {
            assertThat(OpaqueTokens.isWellFormed(Kind.REFRESH, garbage)).as(String.valueOf(garbage)).isFalse();
        }
    }

    @Test
    void constantTimeEqualsComparesContent() {
        assertThat(OpaqueTokens.constantTimeEquals("abc", "abc")).isTrue();
        assertThat(OpaqueTokens.constantTimeEquals("abc", "abd")).isFalse();
        assertThat(OpaqueTokens.constantTimeEquals("abc", "abcd")).isFalse();
        assertThat(OpaqueTokens.constantTimeEquals("", "")).isTrue();
    }
}
