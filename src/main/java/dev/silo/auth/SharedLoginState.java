package dev.silo.auth;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The login throttle's state in Redis, shared by every node: one hash per key ({@code f} failures, {@code ws}
 * window start, {@code lo} lockouts so far, {@code lu} locked until, times in epoch milliseconds), changed only
 * by a Lua script that applies {@link LoginThrottle}'s rules atomically (Redis runs a script alone), so two
 * nodes counting failures of one account at once cannot both miss the lock. Keys expire after
 * {@code forgetAfter} without a failure. Account keys hold a SHA-256 of tenant id and e-mail, never the e-mail.
 */
final class SharedLoginState {
    private static final String PREFIX = "silo:login:";

    /** ARGV: now, threshold, window, baseLockout, maxLockout, forgetAfter (ms). Returns {lockouts before, after, locked until}. */
    private static final String FAIL = """
            local now = tonumber(ARGV[1]); local threshold = tonumber(ARGV[2]); local window = tonumber(ARGV[3])
            local base = tonumber(ARGV[4]); local cap = tonumber(ARGV[5]); local forget = tonumber(ARGV[6])
            local s = redis.call('HMGET', KEYS[1], 'f', 'ws', 'lo', 'lu')
            local f = tonumber(s[1]) or 0; local ws = tonumber(s[2]) or now
            local lo = tonumber(s[3]) or 0; local lu = tonumber(s[4]) or 0
            if now < lu then return {lo, lo, lu} end
            local before = lo
            if f == 0 or now >= ws + window then f = 1 else f = f + 1 end
            if f == 1 then ws = now end
            if f >= threshold then
              lo = lo + 1
              local d = base
              for i = 2, lo do
                if d >= cap then break end
                d = d * 2
              end
              if d > cap then d = cap end
              f = 0; ws = now; lu = now + d
            end
            redis.call('HSET', KEYS[1], 'f', f, 'ws', ws, 'lo', lo, 'lu', lu)
            redis.call('PEXPIRE', KEYS[1], forget)
            return {before, lo, lu}
            """;

    private static final String LOCKED_UNTIL = """
            return {redis.call('HGET', KEYS[1], 'lu') or '0', redis.call('HGET', KEYS[2], 'lu') or '0'}
            """;

    private SharedLoginState() {}

    static String accountKey(String tenantId, String email) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest((tenantId + "\u0000" + email).getBytes(StandardCharsets.UTF_8));
            return PREFIX + "account:" + HexFormat.of().formatHex(digest, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String addressKey(String address) {
        return PREFIX + "address:" + address;
    }

    /** The longer remaining lock of the two keys, zero when neither is locked. */
    static Duration remainingLock(StatefulRedisConnection<String, byte[]> connection, String account, String address, Instant now) {
        List<Object> until = connection.sync().eval(LOCKED_UNTIL, ScriptOutputType.MULTI, account, address);
        long latest = Math.max(millis(until.get(0)), millis(until.get(1)));
        return latest > now.toEpochMilli() ? Duration.ofMillis(latest - now.toEpochMilli()) : Duration.ZERO;
    }

    static Optional<LoginThrottle.Lockout> fail(StatefulRedisConnection<String, byte[]> connection, String key, Instant now,
                                                int threshold, LoginThrottleConfig config, LoginThrottle.Scope scope) {
        List<Object> result = connection.sync().eval(FAIL, ScriptOutputType.MULTI, new String[] {key},
                bytes(now.toEpochMilli()), bytes(threshold), bytes(config.window().toMillis()), bytes(config.baseLockout().toMillis()),
                bytes(config.maxLockout().toMillis()), bytes(config.forgetAfter().toMillis()));
        long before = millis(result.get(0));
        long after = millis(result.get(1));
        if (after <= before) {
            return Optional.empty();
        }
        Instant until = Instant.ofEpochMilli(millis(result.get(2)));
        return Optional.of(new LoginThrottle.Lockout(scope, Duration.between(now, until), until));
    }

    static void clear(StatefulRedisConnection<String, byte[]> connection, String account) {
        connection.sync().del(account);
    }

    private static byte[] bytes(long value) {
        return Long.toString(value).getBytes(StandardCharsets.US_ASCII);
    }

    private static long millis(Object value) {
        if (value instanceof Long number) {
            return number;
        }
        if (value instanceof byte[] text) {
            return Long.parseLong(new String(text, StandardCharsets.US_ASCII));
        }
        return Long.parseLong(String.valueOf(value));
    }
}
