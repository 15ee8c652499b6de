package dev.silo.platform.http;

import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/** {@code X-Request-Id}: accepted from the client when well-formed, generated otherwise. */
public final class RequestIds {
    public static final String HEADER = "X-Request-Id";
    public static final String MDC_KEY = "request_id";
    private static final Pattern WELL_FORMED = Pattern.compile("[A-Za-z0-9._:-]{8,128}");

    private RequestIds() {}

    public static boolean wellFormed(String candidate) {
        return candidate != null && WELL_FORMED.matcher(candidate).matches();
    }

    /**
     * 96 random bits as hex. A request id must be unique, not secret (it is echoed to the client and logged), so it
     * comes from the thread's own generator: the platform {@code SecureRandom} (NativePRNG) reads {@code /dev/urandom}
     * under one global lock, and on a busy machine a descheduled holder made every request wait for it (seen in JFR
     * as the hottest frame of request threads in bench row 15).
     */
    public static String generate() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        return HexFormat.of().toHexDigits(random.nextLong()) + HexFormat.of().toHexDigits(random.nextInt());
    }
}
