package dev.silo.auth;

import at.favre.lib.crypto.bcrypt.BCrypt;
import at.favre.lib.crypto.bcrypt.LongPasswordStrategies;
import dev.silo.platform.problem.BadRequest;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * bcrypt password hashing (version {@code $2b$}, at.favre.lib) at a configured cost (claim C2).
 *
 * <p>bcrypt is the most expensive thing Silo does: about 210 ms of one core per call at cost 12 (see
 * {@code notes/limits.md}). Callers therefore run every call through a {@link HashingGate} (a call on a virtual
 * thread is refused) and, for logins, only after {@link LoginThrottle#check} passed. {@link #bcryptCalls()} counts the computations so tests can prove that a
 * throttled login did not reach bcrypt.
 *
 * <p>Timing: {@link #verifyDummy} does the same work as {@link #verify} against a hash at the configured cost,
 * so a login with an unknown e-mail costs as much as one with a wrong password and reveals nothing about which
 * accounts exist. A password over 72 bytes never matches (no such password can have been stored) but is
 * still checked at full cost, against a placeholder, for the same reason.
 *
 * <p>Thread-safe.
 */
public final class PasswordHasher {
    public static final int DEFAULT_COST = 12;
    /** The floor below which Silo refuses to start: cost 10 is already ~50 ms per guess on one core. */
    public static final int MIN_COST = 10;
    /** bcrypt's own maximum. */
    public static final int MAX_COST = 31;

    private static final BCrypt.Version VERSION = BCrypt.Version.VERSION_2B;
    private static final Pattern BCRYPT_HASH = Pattern.compile("\\$2[abxy]?\\$(\\d\\d)\\$[./A-Za-z0-9]{53}");
    /** Stands in for a password bcrypt cannot take whole; it cannot match because it was never stored. */
    private static final char[] PLACEHOLDER = "silo-placeholder-for-an-unusable-password".toCharArray();

    private final int cost;
    private final BCrypt.Hasher hasher;
    private final BCrypt.Verifyer verifyer;
    private final char[] dummyHash;
    private final LongAdder bcryptCalls = new LongAdder();

    public PasswordHasher() {
        this(DEFAULT_COST);
    }

    /**
     * Builds the hasher and, once, the dummy hash at {@code cost} (one bcrypt computation, not counted in
     * {@link #bcryptCalls()}).
     *
     * @throws IllegalArgumentException when {@code cost} is below 10 or above 31; the message names
     *     {@code SILO_BCRYPT_COST}
     */
    public PasswordHasher(int cost) {
        if (cost < MIN_COST || cost > MAX_COST) {
            throw new IllegalArgumentException("SILO_BCRYPT_COST must be between " + MIN_COST + " and " + MAX_COST
                    + " (default " + DEFAULT_COST + "), got " + cost);
        }
        this.cost = cost;
        this.hasher = BCrypt.with(VERSION, new SecureRandom(), LongPasswordStrategies.strict(VERSION));
        this.verifyer = BCrypt.verifyer(null, LongPasswordStrategies.strict(VERSION));
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        this.dummyHash = hasher.hashToChar(cost, HexFormat.of().formatHex(random).toCharArray());
    }

    public int cost() {
        return cost;
    }

    /**
     * A new salted {@code $2b$} hash of {@code password} at the configured cost.
     *
     * @throws BadRequest {@code password-too-long} over 72 UTF-8 bytes: never truncated. Length and strength
     *     rules are {@link PasswordPolicy}'s; call it first.
     */
    public String hash(String password) {
        requireNonNull(password, "password is null");
        PasswordPolicy.requireWithinBcryptLimit(password);
        requirePlatformThread();
        bcryptCalls.increment();
        return hasher.hashToString(cost, password.toCharArray());
    }

    /**
     * Whether {@code password} matches {@code hash} (in constant time, inside the library).
     *
     * @throws IllegalArgumentException when {@code hash} is not a bcrypt hash: stored data is corrupt (the
     *     message does not contain the hash)
     */
    public boolean verify(String password, String hash) {
        requireNonNull(password, "password is null");
        requireNonNull(hash, "hash is null");
        requireBcryptHash(hash);
        return check(password, hash.toCharArray());
    }

    /**
     * Does the work of {@link #verify} against a dummy hash at the configured cost and returns {@code false}:
     * call it when the e-mail is unknown, so that the answer takes as long as for a wrong password.
     */
    public boolean verifyDummy(String password) {
        requireNonNull(password, "password is null");
        check(password, dummyHash);
        return false;
    }

    /**
     * Whether {@code hash} was made at a lower cost than the configured one: after a successful login,
     * store {@link #hash} of the password again.
     *
     * @throws IllegalArgumentException when {@code hash} is not a bcrypt hash
     */
    public boolean needsRehash(String hash) {
        requireNonNull(hash, "hash is null");
        return requireBcryptHash(hash) < cost;
    }

    /** The cost the dummy hash was made at: the configured cost, so an unknown e-mail costs a full verification. */
    int dummyHashCost() {
        return requireBcryptHash(new String(dummyHash));
    }

    /** How many bcrypt computations {@link #hash}, {@link #verify} and {@link #verifyDummy} have run. */
    public long bcryptCalls() {
        return bcryptCalls.sum();
    }

    private boolean check(String password, char[] hash) {
        boolean usable = PasswordPolicy.fitsBcrypt(password);
        requirePlatformThread();
        bcryptCalls.increment();
        BCrypt.Result result = verifyer.verify(usable ? password.toCharArray() : PLACEHOLDER, hash);
        if (!result.validFormat) {
            throw new IllegalArgumentException("stored password hash is not a valid bcrypt hash");
        }
        return usable && result.verified;
    }

    /**
     * bcrypt on a virtual thread would hold a carrier (one per core) for the whole computation and stall every
     * other request: callers go through {@link HashingGate}. Refusing here turns a forgotten gate into a failing
     * test instead of a latency incident.
     */
    private static void requirePlatformThread() {
        if (Thread.currentThread().isVirtual()) {
            throw new IllegalStateException("bcrypt must not run on a virtual thread: run it through HashingGate");
        }
    }

    /** Returns the cost of a well-formed bcrypt hash. */
    private static int requireBcryptHash(String hash) {
        Matcher matcher = BCRYPT_HASH.matcher(hash);
        if (!matcher.matches()) {
            throw new IllegalArgumentException("stored password hash is not a bcrypt hash");
        }
        return Integer.parseInt(matcher.group(1));
    }
}
