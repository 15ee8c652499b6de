package dev.silo.auth;

import dev.silo.platform.problem.BadRequest;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PasswordPolicyTest {
    private final PasswordPolicy policy = new PasswordPolicy();

    @Test
    void seventyThreeBytePasswordIsRejectedNamingTheLimit() {
        String ascii73 = "a".repeat(73);
        assertThatThrownBy(() -> policy.check(ascii73, "ann@example.com"))
                .isInstanceOfSatisfying(BadRequest.class, problem -> {
                    assertThat(problem.status()).isEqualTo(400);
                    assertThat(problem.type()).isEqualTo("password-too-long");
                    assertThat(problem.detail()).contains("72 bytes").doesNotContain(ascii73);
                    assertThat(problem.extensions()).containsEntry("max_bytes", 72);
                });
    }

    @Test
    void multibytePasswordOverSeventyTwoBytesIsRejectedThoughShortInCharacters() {
        String euros = "€".repeat(25); // 25 characters, 75 bytes
        assertThat(euros.getBytes(StandardCharsets.UTF_8)).hasSize(75);
        assertThatThrownBy(() -> policy.check(euros, "ann@example.com"))
                .isInstanceOfSatisfying(BadRequest.class,
                        problem -> assertThat(problem.type()).isEqualTo("password-too-long"));
        String emoji = "😀".repeat(19); // 19 code points, 38 chars, 76 bytes
        assertThatThrownBy(() -> policy.check(emoji, "ann@example.com"))
                .isInstanceOfSatisfying(BadRequest.class,
                        problem -> assertThat(problem.type()).isEqualTo("password-too-long"));
    }

    @Test
    void exactlySeventyTwoBytesIsAccepted() {
        assertThatCode(() -> policy.check("a".repeat(72), "ann@example.com")).doesNotThrowAnyException();
        assertThatCode(() -> policy.check("€".repeat(24), "ann@example.com")).doesNotThrowAnyException();
    }

    @Test
    void shortPasswordIsWeak() {
        assertThatThrownBy(() -> policy.check("elevenchars", "ann@example.com"))
                .isInstanceOfSatisfying(BadRequest.class, problem -> {
                    assertThat(problem.type()).isEqualTo("weak-password");
                    assertThat(problem.detail()).contains("12");
                });
        assertThatCode(() -> policy.check("twelve chars", "ann@example.com")).doesNotThrowAnyException();
    }

    @Test
    void lengthCountsCharactersNotUtf16Units() {
        // 11 emoji are 22 UTF-16 units but only 11 characters: too short.
        assertThatThrownBy(() -> policy.check("😀".repeat(11), "ann@example.com")).isInstanceOf(BadRequest.class);
        assertThatCode(() -> policy.check("😀".repeat(12), "ann@example.com")).doesNotThrowAnyException();
    }

    @Test
    void emailAsPasswordIsRejectedIgnoringCase() {
        assertThatThrownBy(() -> policy.check("Ann.Long@Example.com", "ann.long@example.com"))
                .isInstanceOfSatisfying(BadRequest.class, problem -> {
                    assertThat(problem.type()).isEqualTo("weak-password");
                    assertThat(problem.detail()).contains("e-mail").doesNotContain("ann.long");
                });
    }

    @Test
    void missingPasswordIsWeak() {
        assertThatThrownBy(() -> policy.check(null, "ann@example.com"))
                .isInstanceOfSatisfying(BadRequest.class, problem -> assertThat(problem.type()).isEqualTo("weak-password"));
    }

    @Test
    void minimumLengthIsConfigurableWithinBounds() {
        PasswordPolicy sixteen = new PasswordPolicy(16);
        assertThatThrownBy(() -> sixteen.check("fifteen chars!!", "ann@example.com")).isInstanceOf(BadRequest.class);
        assertThatCode(() -> sixteen.check("sixteen chars!!!", "ann@example.com")).doesNotThrowAnyException();
        assertThatThrownBy(() -> new PasswordPolicy(7)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PasswordPolicy(73)).isInstanceOf(IllegalArgumentException.class);
        assertThat(new PasswordPolicy().minLength()).isEqualTo(12);
    }
}
