package dev.silo.platform.metrics;

import java.util.OptionalInt;

import static java.util.Objects.requireNonNull;

/**
 * What the metrics endpoint needs from the environment (README "Observability").
 *
 * @param port         {@code SILO_METRICS_PORT}: a second listener on 127.0.0.1 that serves {@code GET /metrics}
 *                     without authentication, for a scraper on the same host or in the same pod; empty (the
 *                     default) for none. 0 picks a free port (tests). {@code /metrics} on the main port, behind an
 *                     operator key, is there either way.
 * @param tenantLabels {@code SILO_METRICS_TENANT_LABELS}: meters that can name a tenant carry its slug as a
 *                     {@code tenant} label (off by default: one series per tenant is a cardinality an operator
 *                     chooses, not a default)
 */
public record MetricsConfig(OptionalInt port, boolean tenantLabels) {
    public MetricsConfig {
        requireNonNull(port, "port is null");
        port.ifPresent(value -> {
            if (value < 0 || value > 65535) {
                throw new IllegalArgumentException("metrics port out of range: " + value);
            }
        });
    }

    public static MetricsConfig defaults() {
        return new MetricsConfig(OptionalInt.empty(), false);
    }
}
