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
    private final Supplier<Map<String, Object>> catalogSnapshots;

    /** {@code receiver} is empty in external mode, where Silo cannot stream the server's WAL. */
    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver) {
        this(auth, receiver, () -> null);
    }

    /** {@code catalogSnapshots}: the catalog snapshot section (dev.silo.backup.logical), shown in both modes. */
    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver, Supplier<Map<String, Object>> catalogSnapshots) {
        this.auth = requireNonNull(auth, "auth is null");
        this.receiver = requireNonNull(receiver, "receiver is null");
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
            if (receiver.isEmpty()) {
                body.put("mode", "external");
                body.put("wal", null);
                body.put("detail", "Silo does not host this PostgreSQL, so it cannot stream its WAL: use the provider's own "
                        + "continuous protection");
                body.put("physical_backups", EXTERNAL_PHYSICAL);
            } else {
                body.put("mode", "embedded");
                body.put("wal", receiver.get().status());
                body.put("store", WalStatus.store(receiver.get().store()));
            }
            body.put("catalog_snapshots", catalogSnapshots.get());
            Json.ok(response, body);
        });
    }
}
