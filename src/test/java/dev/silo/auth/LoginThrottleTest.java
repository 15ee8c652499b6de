package dev.silo.auth;

import dev.silo.auth.LoginThrottle.Lockout;
import dev.silo.auth.LoginThrottle.Scope;
import dev.silo.platform.problem.TooManyRequests;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

class LoginThrottleTest {
    private static final String TENANT = "tenant-a";
    private static final String EMAIL = "ann@example.com";
    private static final InetAddress OFFICE = address("203.0.113.7");
    private static final InetAddress ELSEWHERE = address("198.51.100.9");

    private final TestingClock clock = new TestingClock();
    private final LoginThrottle throttle = new LoginThrottle(LoginThrottleConfig.defaults(), clock);

    @Test
    void fifthFailureLocksTheAccountWithRetryAfter() {
        for (int i = 1; i <= 4; i++) {
            assertThatCode(() -> throttle.check(TENANT, EMAIL, OFFICE)).doesNotThrowAnyException();
            assertThat(throttle.recordFailure(TENANT, EMAIL, OFFICE)).isEmpty();
            clock.advance(Duration.ofSeconds(10));
        }
        List<Lockout> lockouts = throttle.recordFailure(TENANT, EMAIL, OFFICE);
        assertThat(lockouts).containsExactly(
                new Lockout(Scope.ACCOUNT, Duration.ofMinutes(1), clock.instant().plus(Duration.ofMinutes(1))));

        assertThatThrownBy(() -> throttle.check(TENANT, EMAIL, OFFICE))
                .isInstanceOfSatisfying(TooManyRequests.class, problem -> {
                    assertThat(problem.status()).isEqualTo(429);
                    assertThat(problem.type()).isEqualTo("login-throttled");
                    assertThat(problem.retryAfterSeconds()).isEqualTo(60);
                    assertThat(problem.headers()).containsEntry("Retry-After", "60");
                    assertThat(problem.detail()).doesNotContain(EMAIL);
                });
        clock.advance(Duration.ofSeconds(45));
        assertThatThrownBy(() -> throttle.check(TENANT, EMAIL, ELSEWHERE)) // the account, from anywhere
                .isInstanceOfSatisfying(TooManyRequests.class,
                        problem -> assertThat(problem.retryAfterSeconds()).isEqualTo(15));
        clock.advance(Duration.ofSeconds(15));
        assertThatCode(() -> throttle.check(TENANT, EMAIL, OFFICE)).doesNotThrowAnyException();
    }

    @Test
    void lockedAccountNeverReachesBcrypt() {
        PasswordHasher hasher = new PasswordHasher(10);
        String hash = hasher.hash("the real password");
        for (int i = 0; i < 5; i++) {
            attemptLogin(hasher, hash, "guess " + i);
        }
        long before = hasher.bcryptCalls();
        for (int i = 0; i < 100; i++) {
            String guess = "guess " + i;
            assertThatThrownBy(() -> attemptLogin(hasher, hash, guess)).isInstanceOf(TooManyRequests.class);
        }
        assertThatThrownBy(() -> attemptLogin(hasher, hash, "the real password")).isInstanceOf(TooManyRequests.class);
        assertThat(hasher.bcryptCalls()).isEqualTo(before);
    }

    private boolean attemptLogin(PasswordHasher hasher, String hash, String password) {
        throttle.check(TENANT, EMAIL, OFFICE);
        boolean ok = hasher.verify(password, hash);
        if (ok) {
            throttle.recordSuccess(TENANT, EMAIL);
        } else {
            throttle.recordFailure(TENANT, EMAIL, OFFICE);
        }
        return ok;
    }

    @Test
    void eachFurtherLockoutDoublesUpToTheCap() {
        List<Duration> expected = List.of(Duration.ofMinutes(1), Duration.ofMinutes(2), Duration.ofMinutes(4),
                Duration.ofMinutes(8), Duration.ofMinutes(16), Duration.ofMinutes(32), Duration.ofHours(1),
                Duration.ofHours(1));
        for (Duration lock : expected) {
            List<Lockout> lockouts = List.of();
            for (int i = 0; i < 5; i++) {
                throttle.check(TENANT, EMAIL, address("192.0.2." + i));
                lockouts = throttle.recordFailure(TENANT, EMAIL, address("192.0.2." + i));
            }
            assertThat(lockouts).extracting(Lockout::scope, Lockout::duration).containsExactly(
                    tuple(Scope.ACCOUNT, lock));
            assertThatThrownBy(() -> throttle.check(TENANT, EMAIL, OFFICE))
                    .isInstanceOfSatisfying(TooManyRequests.class,
                            problem -> assertThat(problem.retryAfterSeconds()).isEqualTo(lock.toSeconds()));
            clock.advance(lock);
        }
        assertThat(throttle.lockoutDuration(Integer.MAX_VALUE)).isEqualTo(Duration.ofHours(1)); // no overflow
    }

    @Test
    void failuresSpreadOverMoreThanTheWindowDoNotLock() {
        for (int i = 0; i < 20; i++) {
            assertThat(throttle.recordFailure(TENANT, EMAIL, OFFICE)).isEmpty();
            clock.advance(Duration.ofMinutes(4)); // four per 16 minutes: always under five in a window
        }
        assertThatCode(() -> throttle.check(TENANT, EMAIL, OFFICE)).doesNotThrowAnyException();
    }

    @Test
    void successClearsTheAccountAndItsBackoff() {
        lockAccount();
        clock.advance(Duration.ofMinutes(1));
        throttle.recordSuccess(TENANT, EMAIL);
        for (int i = 0; i < 4; i++) {
            assertThat(throttle.recordFailure(TENANT, EMAIL, OFFICE)).isEmpty();
        }
        // Backoff starts again at the base lockout, not at the doubled one.
        assertThat(throttle.recordFailure(TENANT, EMAIL, OFFICE))
                .extracting(Lockout::duration).containsExactly(Duration.ofMinutes(1));
    }

    @Test
    void backoffIsForgottenAfterADayWithoutFailures() {
        lockAccount();
        clock.advance(Duration.ofHours(25));
        assertThat(lockAccount()).extracting(Lockout::duration).containsExactly(Duration.ofMinutes(1));
    }

    @Test
    void emailCaseAndSpacesDoNotDodgeTheLock() {
        lockAccount();
        assertThatThrownBy(() -> throttle.check(TENANT, "  ANN@Example.COM ", OFFICE)).isInstanceOf(TooManyRequests.class);
    }

    @Test
    void sameEmailInAnotherTenantIsAnotherAccount() {
        lockAccount();
        assertThatCode(() -> throttle.check("tenant-b", EMAIL, OFFICE)).doesNotThrowAnyException();
    }

    @Test
    void passwordSprayingFromOneAddressLocksTheAddressOnly() {
        List<Lockout> last = List.of();
        for (int i = 0; i < 50; i++) {
            String email = "user" + i + "@example.com";
            throttle.check(TENANT, email, OFFICE);
            last = throttle.recordFailure(TENANT, email, OFFICE);
        }
        assertThat(last).extracting(Lockout::scope).containsExactly(Scope.ADDRESS);
        assertThatThrownBy(() -> throttle.check(TENANT, "someone.new@example.com", OFFICE))
                .isInstanceOfSatisfying(TooManyRequests.class,
                        problem -> assertThat(problem.retryAfterSeconds()).isEqualTo(60));
        assertThatThrownBy(() -> throttle.check("tenant-b", "other@example.com", OFFICE)) // across tenants
                .isInstanceOf(TooManyRequests.class);
        assertThatCode(() -> throttle.check(TENANT, "user1@example.com", ELSEWHERE)).doesNotThrowAnyException();
    }

    @Test
    void aSuccessDoesNotResetTheAddressCount() {
        for (int i = 0; i < 49; i++) {
            throttle.recordFailure(TENANT, "user" + i + "@example.com", OFFICE);
        }
        throttle.recordSuccess(TENANT, "attacker@example.com");
        assertThat(throttle.recordFailure(TENANT, "victim@example.com", OFFICE))
                .extracting(Lockout::scope).containsExactly(Scope.ADDRESS);
    }

    @Test
    void colleaguesBehindOneNatAreNotLockedByOneAccount() {
        lockAccount();
        assertThatCode(() -> throttle.check(TENANT, "bob@example.com", OFFICE)).doesNotThrowAnyException();
    }

    @Test
    void ipv6AttackerRotatingWithinHisSlash64IsOneAddress() {
        for (int i = 0; i < 50; i++) {
            throttle.recordFailure(TENANT, "user" + i + "@example.com", address("2001:db8:1:2::" + Integer.toHexString(i + 1)));
        }
        assertThatThrownBy(() -> throttle.check(TENANT, "x@example.com", address("2001:db8:1:2:ffff::1")))
                .isInstanceOf(TooManyRequests.class);
        assertThatCode(() -> throttle.check(TENANT, "x@example.com", address("2001:db8:1:3::1")))
                .doesNotThrowAnyException();
        assertThat(LoginThrottle.addressKey(address("::ffff:203.0.113.7"))).isEqualTo("203.0.113.7");
    }

    @Test
    void whenBothAreLockedRetryAfterIsTheLonger() {
        LoginThrottle strict = new LoginThrottle(new LoginThrottleConfig(2, 3, Duration.ofMinutes(15),
                Duration.ofMinutes(1), Duration.ofHours(1), Duration.ofHours(24), 1000), clock);
        strict.recordFailure(TENANT, EMAIL, OFFICE);
        assertThat(strict.recordFailure(TENANT, EMAIL, OFFICE)).extracting(Lockout::scope).containsExactly(Scope.ACCOUNT);
        clock.advance(Duration.ofMinutes(1));
        // The address's third failure locks it for 1 minute ...
        assertThat(strict.recordFailure(TENANT, EMAIL, OFFICE)).extracting(Lockout::scope)
                .containsExactly(Scope.ADDRESS);
        // ... and the account's second lockout, from elsewhere, lasts 2 minutes.
        assertThat(strict.recordFailure(TENANT, EMAIL, ELSEWHERE)).extracting(Lockout::scope, Lockout::duration)
                .containsExactly(tuple(Scope.ACCOUNT, Duration.ofMinutes(2)));
        assertThatThrownBy(() -> strict.check(TENANT, EMAIL, OFFICE))
                .isInstanceOfSatisfying(TooManyRequests.class,
                        problem -> assertThat(problem.retryAfterSeconds()).isEqualTo(120));
        assertThatThrownBy(() -> strict.check(TENANT, "bob@example.com", OFFICE))
                .isInstanceOfSatisfying(TooManyRequests.class,
                        problem -> assertThat(problem.retryAfterSeconds()).isEqualTo(60));
    }

    @Test
    void memoryIsBounded() {
        LoginThrottle small = new LoginThrottle(new LoginThrottleConfig(5, 50, Duration.ofMinutes(15),
                Duration.ofMinutes(1), Duration.ofHours(1), Duration.ofHours(24), 100), clock);
        for (int i = 0; i < 10_000; i++) {
            small.recordFailure(TENANT, "user" + i + "@example.com", address("10.0." + (i / 256 % 256) + "." + (i % 256)));
        }
        assertThat(small.trackedKeys()).isLessThanOrEqualTo(2 * 100);
    }

    @Test
    void configurationIsValidated() {
        assertThatThrownBy(() -> new LoginThrottleConfig(0, 50, Duration.ofMinutes(15), Duration.ofMinutes(1),
                Duration.ofHours(1), Duration.ofHours(24), 100)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LoginThrottleConfig(5, 4, Duration.ofMinutes(15), Duration.ofMinutes(1),
                Duration.ofHours(1), Duration.ofHours(24), 100)).hasMessageContaining("ipFailures");
        assertThatThrownBy(() -> new LoginThrottleConfig(5, 50, Duration.ofMinutes(15), Duration.ofMinutes(2),
                Duration.ofMinutes(1), Duration.ofHours(24), 100)).hasMessageContaining("maxLockout");
        assertThatThrownBy(() -> new LoginThrottleConfig(5, 50, Duration.ofMinutes(15), Duration.ofMinutes(1),
                Duration.ofHours(1), Duration.ofMinutes(30), 100)).hasMessageContaining("forgetAfter");
    }

    private List<Lockout> lockAccount() {
        List<Lockout> lockouts = List.of();
        for (int i = 0; i < 5; i++) {
            lockouts = throttle.recordFailure(TENANT, EMAIL, OFFICE);
        }
        assertThat(lockouts).isNotEmpty();
        return lockouts;
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal); // a literal: no name lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
