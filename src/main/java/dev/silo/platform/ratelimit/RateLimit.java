package dev.silo.platform.ratelimit;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;

import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One token bucket: {@code refillTokens} tokens added evenly every {@code refillPeriod}, at most {@code capacity}
 * held (the burst). Written {@code RATE/UNIT[,BURST]}: {@code 50/s,100} is 50 requests a second with bursts of
 * 100, {@code 1/min,5} five at once then one a minute; {@code UNIT} is {@code s}, {@code min} or {@code h}; the
 * burst defaults to the rate. {@code off} (or {@code none}) is no limit.
 */
public record RateLimit(long refillTokens, Duration refillPeriod, long capacity) {
    private static final Pattern SYNTAX = Pattern.compile("(\\d{1,9})\\s*/\\s*(s|sec|min|m|h)\\s*(?:,\\s*(\\d{1,9}))?");
    public static final String SYNTAX_HELP = "RATE/UNIT[,BURST] such as 50/s,100 (UNIT s, min or h), or off";

    public RateLimit {
        java.util.Objects.requireNonNull(refillPeriod, "refillPeriod is null");
        if (refillTokens < 1 || capacity < 1 || !refillPeriod.isPositive()) {
            throw new IllegalArgumentException("a rate limit needs a positive rate, period and burst");
        }
    }

    /**
     * Parses a setting; empty for {@code off}/{@code none}.
     *
     * @throws IllegalArgumentException naming the expected syntax
     */
    public static Optional<RateLimit> parse(String text) {
        String value = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        if (value.equals("off") || value.equals("none")) {
            return Optional.empty();
        }
        Matcher matcher = SYNTAX.matcher(value);
        if (!matcher.matches()) {
            throw new IllegalArgumentException("expected " + SYNTAX_HELP + ", got '" + shown(text) + "'");
        }
        long rate = Long.parseLong(matcher.group(1));
        Duration period = switch (matcher.group(2)) {
            case "s", "sec" -> Duration.ofSeconds(1);
            case "min", "m" -> Duration.ofMinutes(1);
            default -> Duration.ofHours(1);
        };
        long burst = matcher.group(3) == null ? rate : Long.parseLong(matcher.group(3));
        if (rate < 1 || burst < 1) {
            throw new IllegalArgumentException("expected " + SYNTAX_HELP + " with a rate and burst of at least 1, got '" + shown(text) + "'");
        }
        return Optional.of(new RateLimit(rate, period, burst));
    }

    /** The setting's canonical text, such as {@code 50/s,100}: also part of the bucket's key. */
    public String spec() {
        String unit = refillPeriod.equals(Duration.ofSeconds(1)) ? "s" : refillPeriod.equals(Duration.ofMinutes(1)) ? "min" : "h";
        return refillTokens + "/" + unit + "," + capacity;
    }

    /** Seconds to refill an empty bucket: the window {@code w} of the {@code RateLimit-Policy} header. */
    public long windowSeconds() {
        long nanos = refillPeriod.toNanos() / refillTokens * capacity;
        return Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
    }

    BucketConfiguration configuration() {
        return BucketConfiguration.builder()
                .addLimit(Bandwidth.builder().capacity(capacity).refillGreedy(refillTokens, refillPeriod).build())
                .build();
    }

    /** How long a bucket unused for this long takes to be full again: after that, forgetting it changes nothing. */
    Duration idleUntilFull() {
        return Duration.ofSeconds(windowSeconds());
    }

    private static String shown(String text) {
        String value = text == null ? "" : text.strip();
        return value.length() > 40 ? value.substring(0, 40) + "..." : value;
    }

    @Override
    public String toString() {
        return spec();
    }
}
