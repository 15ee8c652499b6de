package dev.silo.auth;

import com.github.benmanes.caffeine.cache.Ticker;

import java.time.Clock;
import java.time.Instant;

import static java.util.Objects.requireNonNull;

/** Caffeine's time source from an injected {@link Clock}, so cache expiry follows a test's clock too. */
record ClockTicker(Clock clock) implements Ticker {
    ClockTicker {
        requireNonNull(clock, "clock is null");
    }

    @Override
    public long read() {
        Instant now = clock.instant();
        // Nanoseconds since the epoch fit in a long until 2262.
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }
}
