package dev.silo.auth;

import java.time.Duration;

import static java.util.Objects.requireNonNull;

/**
 * Settings of {@link LoginThrottle}.
 *
 * @param accountFailures failures of one (tenant, e-mail) within {@code window} that lock it
 * @param ipFailures failures from one client address within {@code window} that lock it; higher than
 *     {@code accountFailures} so that one office behind a NAT does not lock out all its colleagues
 * @param window how long failures are counted, from the first failure after a reset
 * @param baseLockout the first lockout of a key; each further one doubles
 * @param maxLockout the cap of the doubling
 * @param forgetAfter a key with no failure for this long is forgotten, its backoff included; at least
 *     {@code window} and {@code maxLockout}
 * @param maxKeys the most keys remembered per scope (accounts, addresses): bounds memory under a flood
 */
public record LoginThrottleConfig(
        int accountFailures,
        int ipFailures,
        Duration window,
        Duration baseLockout,
        Duration maxLockout,
        Duration forgetAfter,
        long maxKeys) {

    public LoginThrottleConfig {
        requireNonNull(window, "window is null");
        requireNonNull(baseLockout, "baseLockout is null");
        requireNonNull(maxLockout, "maxLockout is null");
        requireNonNull(forgetAfter, "forgetAfter is null");
        if (accountFailures < 1) {
            throw new IllegalArgumentException("accountFailures must be at least 1, got " + accountFailures);
        }
        if (ipFailures < accountFailures) {
            throw new IllegalArgumentException("ipFailures (" + ipFailures + ") must be at least accountFailures ("
                    + accountFailures + ")");
        }
        requirePositive(window, "window");
        requirePositive(baseLockout, "baseLockout");
        if (maxLockout.compareTo(baseLockout) < 0) {
            throw new IllegalArgumentException("maxLockout (" + maxLockout + ") must be at least baseLockout ("
                    + baseLockout + ")");
        }
        if (forgetAfter.compareTo(window) < 0 || forgetAfter.compareTo(maxLockout) < 0) {
            throw new IllegalArgumentException("forgetAfter (" + forgetAfter + ") must be at least window ("
                    + window + ") and maxLockout (" + maxLockout + ")");
        }
        if (maxKeys < 1) {
            throw new IllegalArgumentException("maxKeys must be at least 1, got " + maxKeys);
        }
    }

    /**
     * 5 failures per account or 50 per address in 15 minutes; lockouts of 1, 2, 4 ... minutes up to 1 hour;
     * state kept 24 hours; 100,000 keys per scope (a few tens of MB at most).
     */
    public static LoginThrottleConfig defaults() {
        return new LoginThrottleConfig(5, 50, Duration.ofMinutes(15), Duration.ofMinutes(1), Duration.ofHours(1),
                Duration.ofHours(24), 100_000);
    }

    private static void requirePositive(Duration duration, String name) {
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, got " + duration);
        }
    }
}
