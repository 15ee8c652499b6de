package dev.silo.records;

import java.security.SecureRandom;
import java.time.Instant;
import java.util.UUID;

/** UUIDv7 (RFC 9562 section 5.7): a millisecond Unix timestamp, then 74 random bits, so ids sort by creation. */
final class RecordIds {
    private static final SecureRandom RANDOM = new SecureRandom();

    private RecordIds() {}

    static UUID v7(Instant now) {
        long millis = now.toEpochMilli() & 0xFFFF_FFFF_FFFFL;
        long mostSignificant = (millis << 16) | 0x7000L | (RANDOM.nextInt() & 0x0FFFL);
        long leastSignificant = (RANDOM.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
        return new UUID(mostSignificant, leastSignificant);
    }
}
