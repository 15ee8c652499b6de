package dev.silo.backup.wal;

import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/** {@code GET /admin/backups} (operator key): the WAL receiver's status and what the backup store holds. */
public final class WalRoutes {
    private final OperatorAuth auth;
    private final Optional<WalReceiver> receiver;
    private final Map<String, Section> sections;
    private final boolean embedded;
    private final Supplier<Map<String, Object>> catalogSnapshots;

    /** One more part of the body, computed per request (the base backups, for example). */
    public interface Section {
        Object view() throws java.io.IOException;
    }

    /** {@code receiver} is empty in external mode, where Silo cannot stream the server's WAL. */
    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver) {
        this(auth, receiver, Map.of(), receiver.isPresent(), () -> null);
    }

    /** {@code sections} are added to the body in embedded mode, under their keys. */
    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver, Map<String, Section> sections) {
        this(auth, receiver, sections, receiver.isPresent(), () -> null);
    }

    /** {@code embedded} with an empty {@code receiver}: streaming turned off ({@code SILO_BACKUP_STREAMING=off}). */
    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver, boolean embedded) {
        this(auth, receiver, Map.of(), embedded, () -> null);
    }

    /** {@code catalogSnapshots}: the catalog snapshot section (dev.silo.backup.logical), shown in both modes. */
    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver, Supplier<Map<String, Object>> catalogSnapshots) {
        this(auth, receiver, Map.of(), receiver.isPresent(), catalogSnapshots);
    }

    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver, Map<String, Section> sections, boolean embedded,
                     Supplier<Map<String, Object>> catalogSnapshots) {
        this.auth = requireNonNull(auth, "auth is null");
        this.receiver = requireNonNull(receiver, "receiver is null");
        this.sections = Map.copyOf(sections);
        this.embedded = embedded;
        this.catalogSnapshots = requireNonNull(catalogSnapshots, "catalogSnapshots is null");
    }

    /** External mode: what Silo does not do there, said plainly. */
    public static final String EXTERNAL_PHYSICAL = "not done by Silo: physical backups and point-in-time recovery of the "
            + "catalog/placement server are the provider's (Heroku Postgres and managed servers have their own continuous "
            + "protection); Silo keeps logical catalog snapshots every minute and daily logical backups of every tenant";

    public void register(Routes routes) {
        routes.get("/admin/backups", (request, response) -> {
            auth.require(request);
            Map<String, Object> body = new LinkedHashMap<>();
            if (receiver.isEmpty() && embedded) {
                body.put("mode", "embedded");
                body.put("wal", null);
                body.put("detail", "WAL streaming is off (SILO_BACKUP_STREAMING=off, for benchmarks and diagnosis only): "
                        + "nothing is backed up continuously");
            } else if (receiver.isEmpty()) {
                body.put("mode", "external");
                body.put("wal", null);
                body.put("detail", "Silo does not host this PostgreSQL, so it cannot stream its WAL: use the provider's own "
                        + "continuous protection");
                body.put("physical_backups", EXTERNAL_PHYSICAL);
            } else {
                body.put("mode", "embedded");
                body.put("wal", receiver.get().status());
                body.put("store", WalStatus.store(receiver.get().store()));
                for (Map.Entry<String, Section> section : new java.util.TreeMap<>(sections).entrySet()) {
                    body.put(section.getKey(), section.getValue().view());
                }
            }
            body.put("catalog_snapshots", catalogSnapshots.get());
            Json.ok(response, body);
        });
    }
}
