package bench;

import java.util.List;
import java.util.Map;

/** Row 6 (issue 12.1): WAL streaming into the backup store, its lag and what it costs record writes. */
final class WalRows {
    private final Harness harness;
    private final Options options;

    WalRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    /**
     * Row 6 (issue 12.1): WAL streaming into the backup store. The lag (`GET /admin/backups`, `wal.lag_seconds`,
     * sampled every 200 ms) under the record-write load of row 3, and record writes/s with streaming on (this
     * Silo), off ({@code SILO_BACKUP_STREAMING=off}) and synchronous ({@code SILO_BACKUP_SYNCHRONOUS=on}), each
     * of the other two a fresh Silo started for this row, one at a time, after this one went idle. The on/off ratio
     * compares two fresh Silos started the same way (defaults, then streaming off): the main Silo, warm after rows
     * 1-5 with a tenant of many records, measured 3-4.6 times the writes of a fresh one, which said nothing about
     * streaming.
     */
    void measure(Api api, Features features) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.RECORDS);
        LagSampler lag = new LagSampler(api, features.operatorKey());
        Measured on = harness.siloRow("record writes, streaming on", features, needs, () -> lag.during(
                () -> SiloRows.recordWrites(api, features, options)));
        Measured onFresh = otherSilo("stream", Map.of(), null, needs);
        Measured off = otherSilo("nostream", Map.of("SILO_BACKUP_STREAMING", "off"), null, needs);
        LagSampler syncLag = new LagSampler(null, null);
        Measured sync = otherSilo("sync", Map.of("SILO_BACKUP_SYNCHRONOUS", "on"), syncLag, needs);
        harness.add(new Row("6", "WAL lag (server flush to store) p50 / p99 under record writes, streaming on (goal p99 ≤ 5 s)",
                lag.cell(), "—", "—", lag.notes()));
        harness.add(harness.row("6", "records: create, WAL streaming on vs `SILO_BACKUP_STREAMING=off`, both fresh Silos (goal ≥ 0.9)",
                onFresh, off));
        harness.add(harness.row("6", "records: create, the main Silo (streaming on, warm) vs a fresh one with streaming off", on, off));
        harness.add(new Row("6", "WAL lag p50 / p99 under record writes, `SILO_BACKUP_SYNCHRONOUS=on`", syncLag.cell(), "—", "—",
                syncLag.notes()));
        harness.add(harness.row("6", "records: create, `SILO_BACKUP_SYNCHRONOUS=on` vs streaming off (each commit waits for one store put)",
                sync, off));
    }

    /** Starts another Silo with {@code env}, measures record writes on it (sampling its lag if asked), stops it. */
    private Measured otherSilo(String name, Map<String, String> env, LagSampler lag, List<Feature> needs) {
        return harness.onOtherSilo(name, env, env.toString(), (other, otherApi, otherFeatures) -> {
            // A fresh JVM: one unmeasured pass of the same load first, so it is compared warm with the main Silo.
            if (otherFeatures.missing(Feature.RECORDS).isEmpty() && !otherFeatures.failed(Feature.RECORDS)) {
                harness.attempt("warming the Silo " + name, () -> SiloRows.recordWrites(otherApi, otherFeatures, options));
            }
            if (lag == null) {
                return harness.siloRow("record writes, " + name, otherFeatures, needs,
                        () -> SiloRows.recordWrites(otherApi, otherFeatures, options));
            }
            lag.attach(otherApi, otherFeatures.operatorKey());
            if ("on".equals(env.get("SILO_BACKUP_SYNCHRONOUS"))) {
                lag.awaitSynchronous();
            }
            return harness.siloRow("record writes, " + name, otherFeatures, needs,
                    () -> lag.during(() -> SiloRows.recordWrites(otherApi, otherFeatures, options)));
        });
    }
}
