package dev.silo.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.Objects.requireNonNull;

/** A clock that stands still until a test moves it. Thread-safe. */
public final class TestingClock extends Clock {
    private final AtomicReference<Instant> now;
    private final ZoneId zone;

    public TestingClock() {
        this(Instant.parse("2026-11-23T12:00:00Z"));
    }

    public TestingClock(Instant start) {
        this(new AtomicReference<>(requireNonNull(start, "start is null")), ZoneOffset.UTC);
    }

    private TestingClock(AtomicReference<Instant> now, ZoneId zone) {
        this.now = now;
        this.zone = zone;
    }

    public void advance(Duration duration) {
        requireNonNull(duration, "duration is null");
        now.updateAndGet(instant -> instant.plus(duration));
    }

    public void set(Instant instant) {
        now.set(requireNonNull(instant, "instant is null"));
    }

    @Override
    public Instant instant() {
        return now.get();
    }

    @Override
    public ZoneId getZone() {
        return zone;
    }

    /** A view in another zone that shares this clock's time. */
    @Override
    public Clock withZone(ZoneId zone) {
        return new TestingClock(now, requireNonNull(zone, "zone is null"));
    }
}
