package dev.silo.auth;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JwtSecretsTest {
    @Test
    void secretsAreSixtyFourUrlSafeCharactersByDefault() {
        String secret = JwtSecrets.generate();
        assertThat(secret).hasSize(64).matches("[A-Za-z0-9_-]{64}");
        assertThat(JwtSecrets.generate(100)).hasSize(100);
        assertThat(JwtSecrets.generate(40)).hasSize(40);
    }

    @Test
    void shortSecretsAreRefused() {
        assertThatThrownBy(() -> JwtSecrets.generate(39))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("40");
    }

    @Test
    void secretsAndKidsDoNotRepeatAndUseTheWholeAlphabet() {
        Set<String> secrets = new HashSet<>();
        Set<Character> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String secret = JwtSecrets.generate();
            secrets.add(secret);
            secret.chars().forEach(c -> seen.add((char) c));
        }
        assertThat(secrets).hasSize(1000);
        assertThat(seen).hasSize(64);
        String kid = JwtSecrets.newKid();
        assertThat(kid).hasSize(16).matches("[A-Za-z0-9_-]+").isNotEqualTo(JwtSecrets.newKid());
        assertThat(SigningKey.of(kid, JwtSecrets.generate(40)).kid()).isEqualTo(kid); // usable as is
    }
}
