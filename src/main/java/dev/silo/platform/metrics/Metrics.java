package dev.silo.platform.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.nio.charset.StandardCharsets;

import static java.util.Objects.requireNonNull;

/**
 * The node's meters (README "Observability"): one Micrometer registry in the Prometheus format, with the JVM and
 * process meters bound at construction; the features register theirs on {@link #registry()}.
 *
 * <p>Cardinality is bounded by construction: no label value comes from a request (routes are templates, methods
 * a fixed set, problem types constants of the code), and a tenant's slug is a label only when
 * {@link #tenantLabels()} is on. User ids never are.
 */
public final class Metrics implements AutoCloseable {
    /** The Prometheus text exposition format, version 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry;
    private final MetricsConfig config;
    private final JvmGcMetrics gc;

    public Metrics(MetricsConfig config) {
        this.config = requireNonNull(config, "config is null");
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        this.gc = new JvmGcMetrics();
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    /** A registry that records nothing: for services built without a node (commands, unit tests). */
    public static MeterRegistry none() {
        return new CompositeMeterRegistry();
    }

    public MeterRegistry registry() {
        return registry;
    }

    public MetricsConfig config() {
        return config;
    }

    /** Whether meters may carry a tenant's slug as a label ({@code SILO_METRICS_TENANT_LABELS}). */
    public boolean tenantLabels() {
        return config.tenantLabels();
    }

    /** Every meter now, in the Prometheus text format ({@link #CONTENT_TYPE}). */
    public byte[] scrape() {
        return registry.scrape().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
