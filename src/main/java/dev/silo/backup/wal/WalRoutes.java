package dev.silo.backup.wal;

import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/** {@code GET /admin/backups} (operator key): the WAL receiver's status and what the backup store holds. */
public final class WalRoutes {
    private final OperatorAuth auth;
    private final Optional<WalReceiver> receiver;

    /** {@code receiver} is empty in external mode, where Silo cannot stream the server's WAL. */
    public WalRoutes(OperatorAuth auth, Optional<WalReceiver> receiver) {
        this.auth = requireNonNull(auth, "auth is null");
        this.receiver = requireNonNull(receiver, "receiver is null");
    }

    public void register(Routes routes) {
        routes.get("/admin/backups", (request, response) -> {
            auth.require(request);
            Map<String, Object> body = new LinkedHashMap<>();
            if (receiver.isEmpty()) {
                body.put("mode", "external");
                body.put("wal", null);
                body.put("detail", "Silo does not host this PostgreSQL, so it cannot stream its WAL: use the provider's own "
                        + "continuous protection");
            } else {
                body.put("mode", "embedded");
                body.put("wal", receiver.get().status());
                body.put("store", WalStatus.store(receiver.get().store()));
            }
            Json.ok(response, body);
        });
    }
}
