package bench;

import com.fasterxml.jackson.databind.JsonNode;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Row 16 (issue 19.2): a login with the TOTP second factor (the password, 401 {@code mfa-required} with a ticket,
 * then {@code POST /auth/mfa} with the ticket and the app's code) against a login without one, on the same Silo,
 * through the same client, in the same run. The goal: the second step is invisible next to bcrypt (ratio ≥ 0.9).
 *
 * <p>Silo accepts each code once per user (the step of the last code used is remembered), so the MFA variant logs in
 * as many enrolled users in turn, each with the codes of the current step and the next one (two logins per user per
 * 30 seconds; never the step before, which may turn between the client and the server). The users are made for the
 * row: enough for the rate the password-only variant reached (a wait for an unused code is counted in the notes).
 */
final class MfaRows {
    private static final int THREADS = 4;
    private static final int MAX_USERS = 400;

    private final Harness harness;
    private final Options options;

    MfaRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure(Api api, Features features) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN);
        Measured plain = harness.siloRow("login without a second factor", features, needs,
                () -> run(api, features, THREADS, false));
        Measured mfa = !plain.ok() ? plain : harness.siloRow("login with a TOTP second factor", features, needs,
                () -> run(api, features, usersFor(plain.rate()), true));
        harness.add(harness.row("16", "login with a TOTP second factor (password, then ticket and code: two requests) vs "
                + "without, " + THREADS + " client threads (goal ≥ 0.9)", mfa, plain));
    }

    /**
     * One login per user until the step turns (its enrolment used the current step), two per step after: one user per
     * login of the warm-up and the measured time, with half again to spare, covers a run that ends before the turn.
     */
    private int usersFor(double rate) {
        double seconds = options.warmup().toMillis() / 1000.0 + options.measure().toMillis() / 1000.0;
        return (int) Math.min(MAX_USERS, Math.ceil(rate * seconds * 1.5) + THREADS);
    }

    private static final class User {
        final String email;
        final byte[] secret;
        long lastStep;

        User(String email, byte[] secret, long lastStep) {
            this.email = email;
            this.secret = secret;
            this.lastStep = lastStep;
        }

        /** The next step whose code this user may use now (the current one or the next), or -1 when both are used. */
        synchronized long takeStep() {
            long current = step(System.currentTimeMillis());
            long step = Math.max(lastStep + 1, current);
            if (step > current + 1) {
                return -1;
            }
            lastStep = step;
            return step;
        }
    }

    private Measured run(Api api, Features features, int count, boolean mfa) throws Exception {
        BenchTenant tenant = features.tenant();
        String slug = tenant.slug();
        String admin = features.login(slug, tenant.email());
        String prefix = "mfa-bench-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        harness.progress("row 16: making " + count + " user" + (count == 1 ? "" : "s") + (mfa ? " with an authenticator" : ""));
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<User>> made = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String email = prefix + i + "@example.com";
                made.add(pool.submit(() -> makeUser(api, features, slug, admin, email, mfa)));
            }
            List<User> users = new ArrayList<>();
            for (Future<User> user : made) {
                users.add(get(user));
            }
            AtomicLong next = new AtomicLong();
            AtomicLong stalls = new AtomicLong();
            AtomicLong done = new AtomicLong();
            long start = System.nanoTime();
            long measureFrom = start + options.warmup().toNanos();
            long end = measureFrom + options.measure().toNanos();
            AtomicLong counted = new AtomicLong();
            List<Future<Void>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                workers.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        User user = users.get((int) (next.getAndIncrement() % users.size()));
                        long step = mfa ? user.takeStep() : 0;
                        if (step < 0) {
                            stalls.incrementAndGet();
                            Thread.sleep(5); // every user's codes of this step and the next are spent: wait for a turn
                            continue;
                        }
                        login(api, slug, user, step, mfa);
                        long now = System.nanoTime();
                        done.incrementAndGet();
                        if (now >= measureFrom && now < end) {
                            counted.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<Void> worker : workers) {
                get(worker);
            }
            double rate = counted.get() / (options.measure().toNanos() / 1e9);
            String notes = count + " user" + (count == 1 ? "" : "s") + ", " + done.get() + " logins"
                    + (stalls.get() > 0 ? ", " + stalls.get() + " waits for a user with an unused code" : "");
            return Measured.throughput(mfa ? "with MFA" : "", rate, "logins/s", null, notes);
        } finally {
            pool.shutdownNow();
        }
    }

    private static User makeUser(Api api, Features features, String slug, String admin, String email, boolean mfa) {
        api.expect("POST", "/t/" + slug + "/users", Map.of("email", email, "role", "member", "password", Bench.PASSWORD), admin);
        if (!mfa) {
            return new User(email, null, 0);
        }
        String token = features.login(slug, email);
        Reply setup = api.call("POST", "/t/" + slug + "/me/mfa/totp", null, token);
        if (setup.routeMissing()) {
            throw new NotYet("no TOTP second factor (POST /t/{tenant}/me/mfa/totp)");
        }
        if (!setup.success()) {
            throw new Fatal("POST /t/" + slug + "/me/mfa/totp answered " + setup.status() + ": " + Format.abbreviate(setup.body()));
        }
        byte[] secret = base32(setup.json().get("secret").asText());
        long step = step(System.currentTimeMillis()); // still accepted if the step turns on the way (one behind)
        api.expect("POST", "/t/" + slug + "/me/mfa/totp/confirm", Map.of("code", code(secret, step)), token);
        return new User(email, secret, step);
    }

    private static void login(Api api, String slug, User user, long step, boolean mfa) {
        Reply first = api.call("POST", "/t/" + slug + "/auth/login", Map.of("email", user.email, "password", Bench.PASSWORD), null);
        if (!mfa) {
            if (first.status() != 200) {
                throw new Fatal("POST /t/" + slug + "/auth/login answered " + first.status() + ": " + Format.abbreviate(first.body()));
            }
            return;
        }
        JsonNode ticket = first.status() == 401 ? first.json().get("ticket") : null;
        if (ticket == null) {
            throw new Fatal("POST /t/" + slug + "/auth/login of a user with MFA answered " + first.status() + " without a ticket: "
                    + Format.abbreviate(first.body()));
        }
        Reply second = api.call("POST", "/t/" + slug + "/auth/mfa", Map.of("ticket", ticket.asText(), "code", code(user.secret, step)), null);
        if (second.status() != 200) {
            throw new Fatal("POST /t/" + slug + "/auth/mfa answered " + second.status() + ": " + Format.abbreviate(second.body()));
        }
    }

    private static <T> T get(Future<T> future) throws Exception {
        try {
            return future.get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    static long step(long epochMillis) {
        return Math.floorDiv(epochMillis / 1000, 30);
    }

    /** RFC 6238 with HMAC-SHA-1 and 6 digits, as an authenticator app computes it (RFC 4226 section 5.3). */
    static String code(byte[] secret, long step) {
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(secret, "HmacSHA1"));
            byte[] hash = mac.doFinal(ByteBuffer.allocate(8).putLong(step).array());
            int offset = hash[hash.length - 1] & 0x0f;
            int binary = (ByteBuffer.wrap(hash, offset, 4).getInt() & 0x7fffffff) % 1_000_000;
            return String.format(Locale.ROOT, "%06d", binary);
        } catch (GeneralSecurityException e) {
            throw new Fatal("HMAC-SHA-1 is not available: " + e);
        }
    }

    /** RFC 4648 base32 without padding (the secret as Silo shows it). */
    static byte[] base32(String text) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        ByteBuffer out = ByteBuffer.allocate(text.length() * 5 / 8);
        int buffer = 0;
        int bits = 0;
        for (char c : text.toCharArray()) {
            int value = alphabet.indexOf(c);
            if (value < 0) {
                throw new Fatal("the TOTP secret Silo answered is not base32");
            }
            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8) {
                out.put((byte) (buffer >> (bits - 8)));
                bits -= 8;
            }
        }
        return out.array();
    }
}
