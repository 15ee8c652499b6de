package dev.silo.auth;

import dev.silo.platform.problem.BadRequest;
import org.junit.jupiter.api.Test;


import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PasswordHasherTest {
    /** Cost 10 keeps each bcrypt call near 50 ms on the build machine. */
    private static final PasswordHasher HASHER = new PasswordHasher(10);

    @Test
    void hashesVerifyAndWrongPasswordsDoNot() {
        String hash = HASHER.hash("correct horse battery");
        assertThat(hash).startsWith("$2b$10$").hasSize(60).doesNotContain("correct");
        assertThat(HASHER.verify("correct horse battery", hash)).isTrue();
        assertThat(HASHER.verify("correct horse batterY", hash)).isFalse();
        assertThat(HASHER.hash("correct horse battery")).isNotEqualTo(hash); // salted
    }

    @Test
    void defaultCostIsTwelve() {
        PasswordHasher defaults = new PasswordHasher();
        assertThat(defaults.cost()).isEqualTo(12);
        assertThat(defaults.needsRehash(HASHER.hash("correct horse battery"))).isTrue();
    }

    @Test
    void costBelowTenIsRefusedNamingTheSetting() {
        assertThatThrownBy(() -> new PasswordHasher(9))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("SILO_BCRYPT_COST")
                .hasMessageContaining("9");
        assertThatThrownBy(() -> new PasswordHasher(32)).hasMessageContaining("SILO_BCRYPT_COST");
    }

    @Test
    void seventyThreeBytePasswordIsRejectedNamingTheLimit() {
        long before = HASHER.bcryptCalls();
        assertThatThrownBy(() -> HASHER.hash("€".repeat(25)))
                .isInstanceOfSatisfying(BadRequest.class, problem -> {
                    assertThat(problem.type()).isEqualTo("password-too-long");
                    assertThat(problem.detail()).contains("72 bytes");
                });
        assertThat(HASHER.bcryptCalls()).isEqualTo(before);
    }

    @Test
    void passwordsSharingTheFirstSeventyTwoBytesAreNotConfused() {
        // bcrypt ignores bytes after the 72nd: a longer password must not log in as its prefix.
        String hash = HASHER.hash("a".repeat(72));
        assertThat(HASHER.verify("a".repeat(72), hash)).isTrue();
        assertThat(HASHER.verify("a".repeat(73), hash)).isFalse();
        assertThat(HASHER.verify("a".repeat(72) + "€", hash)).isFalse();
    }

    @Test
    void rehashNeededWhenCostRaised() {
        String atTen = HASHER.hash("correct horse battery");
        assertThat(HASHER.needsRehash(atTen)).isFalse();
        PasswordHasher raised = new PasswordHasher(11);
        assertThat(raised.needsRehash(atTen)).isTrue();
        assertThat(raised.verify("correct horse battery", atTen)).isTrue(); // old hashes still log in
        String atEleven = raised.hash("correct horse battery");
        assertThat(atEleven).startsWith("$2b$11$");
        assertThat(raised.needsRehash(atEleven)).isFalse();
        assertThat(HASHER.needsRehash(atEleven)).isFalse(); // a higher cost is never lowered
    }

    @Test
    void hashesOfOtherBcryptVersionsVerify() {
        String twoA = "$2a" + HASHER.hash("correct horse battery").substring(3);
        assertThat(HASHER.verify("correct horse battery", twoA)).isTrue();
    }

    @Test
    void unknownEmailCostsTheSameBcryptWork() {
        long before = HASHER.bcryptCalls();
        assertThat(HASHER.verifyDummy("whatever the attacker typed")).isFalse();
        assertThat(HASHER.bcryptCalls()).isEqualTo(before + 1);
        assertThat(HASHER.verifyDummy("x".repeat(100))).isFalse(); // even an over-long one
        assertThat(HASHER.bcryptCalls()).isEqualTo(before + 2);

        // The same work as a wrong password: one full bcrypt verification against a hash of the configured cost
        // (asserted on the work itself, not on timings, which a busy machine makes meaningless).
        assertThat(HASHER.dummyHashCost()).isEqualTo(HASHER.cost());
        String hash = HASHER.hash("correct horse battery");
        long beforeWrong = HASHER.bcryptCalls();
        assertThat(HASHER.verify("wrong password", hash)).isFalse();
        assertThat(HASHER.bcryptCalls()).isEqualTo(beforeWrong + 1);
        assertThat(new PasswordHasher(11).dummyHashCost()).isEqualTo(11);
    }

    @Test
    void corruptStoredHashIsAnErrorNotAMismatch() {
        assertThatThrownBy(() -> HASHER.verify("correct horse battery", "not-a-hash"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageNotContaining("not-a-hash");
        assertThatThrownBy(() -> HASHER.needsRehash("$2b$10$short")).isInstanceOf(IllegalArgumentException.class);
    }

}
