package dev.silo.auth;

import dev.silo.platform.metrics.Metrics;
import dev.silo.tenant.Tenant;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * Logins by outcome and failed access-token checks by reason (README "Observability"). The reason a token was
 * refused is counted here only: the client always gets the same {@code invalid-token} answer.
 *
 * <p>With tenant labels ({@code SILO_METRICS_TENANT_LABELS}) logins also carry the tenant's slug; token failures
 * never do, as most of them come before anything in the token may be trusted.
 */
public final class AuthMetrics {
    /** How a login attempt ended. */
    public enum LoginOutcome {
        SUCCESS, WRONG_PASSWORD, UNKNOWN_EMAIL, DISABLED, THROTTLED, BUSY, INVALID_REQUEST,
        /** The password was right and a second factor is due (401 mfa-required or mfa-enrolment-required). */
        MFA_REQUIRED;

        final String label = name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Why an access token was refused. */
    public enum TokenFailure {
        /** No {@code Authorization: Bearer} header. */
        MISSING,
        /** Not a compact JWS, too long, or does not parse. */
        MALFORMED,
        /** An {@code alg} other than HS256, or a header parameter Silo does not accept. */
        HEADER,
        /** The {@code kid} is no current key of the tenant. */
        UNKNOWN_KEY,
        /** The signature does not verify. */
        SIGNATURE,
        /** Past {@code exp}, before {@code nbf} or issued in the future (beyond the allowed skew). */
        EXPIRED,
        /** {@code iss}, {@code aud} or {@code tid} are not this tenant's. */
        WRONG_TENANT,
        /** A required claim is missing or of the wrong type. */
        CLAIMS,
        /** The token's session ended (logout, password change, user disabled) or is not its user's. */
        SESSION_ENDED;

        final String label = name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private final MeterRegistry registry;
    private final boolean tenantLabels;
    private final Map<LoginOutcome, Counter> logins = new EnumMap<>(LoginOutcome.class);
    private final Map<TokenFailure, Counter> tokenFailures = new EnumMap<>(TokenFailure.class);

    public AuthMetrics(MeterRegistry registry, boolean tenantLabels) {
        this.registry = requireNonNull(registry, "registry is null");
        this.tenantLabels = tenantLabels;
        if (!tenantLabels) {
            for (LoginOutcome outcome : LoginOutcome.values()) {
                logins.put(outcome, loginCounter(outcome).register(registry));
            }
        }
        for (TokenFailure reason : TokenFailure.values()) {
            tokenFailures.put(reason, Counter.builder("silo.token.checks.failed").tag("reason", reason.label)
                    .description("access tokens refused, by reason (the client always gets the same invalid-token)")
                    .register(registry));
        }
    }

    /** Counts nothing anywhere. */
    public static AuthMetrics none() {
        return new AuthMetrics(Metrics.none(), false);
    }

    void login(LoginOutcome outcome, Tenant tenant) {
        if (tenantLabels) {
            // A tenant label means a lookup by tags; a login costs a bcrypt, next to which that is nothing.
            loginCounter(outcome).tag("tenant", tenant.slug()).register(registry).increment();
        } else {
            logins.get(outcome).increment();
        }
    }

    void tokenFailed(TokenFailure reason) {
        tokenFailures.get(reason).increment();
    }

    private static Counter.Builder loginCounter(LoginOutcome outcome) {
        return Counter.builder("silo.logins").tag("outcome", outcome.label)
                .description("login attempts by outcome");
    }
}
