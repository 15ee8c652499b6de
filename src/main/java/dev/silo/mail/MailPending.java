package dev.silo.mail;

import dev.silo.platform.db.Sql;

import javax.sql.DataSource;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The catalog's list of tenants whose outbox may hold mail ({@code mail_pending}): what lets the sweeps skip the
 * databases of the many tenants that have none. Set before the tenant transaction that writes a mail commits (a
 * flag for a transaction that then rolls back only costs a look); cleared when a drain finds nothing left and no
 * new mail was flagged meanwhile (the generation it read is still the one stored).
 */
final class MailPending {
    private final DataSource catalog;

    MailPending(DataSource catalog) {
        this.catalog = requireNonNull(catalog, "catalog is null");
    }

    void flag(UUID tenantId) {
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement upsert = connection.prepareStatement("""
                    INSERT INTO mail_pending (tenant_id, generation) VALUES (?, 1)
                    ON CONFLICT (tenant_id) DO UPDATE SET generation = mail_pending.generation + 1
                    """)) {
                upsert.setObject(1, tenantId);
                upsert.executeUpdate();
            }
            return null;
        });
    }

    OptionalLong generation(UUID tenantId) {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT generation FROM mail_pending WHERE tenant_id = ?")) {
                select.setObject(1, tenantId);
                try (ResultSet rs = select.executeQuery()) {
                    return rs.next() ? OptionalLong.of(rs.getLong(1)) : OptionalLong.empty();
                }
            }
        });
    }

    void clear(UUID tenantId, long generation) {
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement delete = connection.prepareStatement(
                    "DELETE FROM mail_pending WHERE tenant_id = ? AND generation = ?")) {
                delete.setObject(1, tenantId);
                delete.setLong(2, generation);
                delete.executeUpdate();
            }
            return null;
        });
    }

    /** The slugs of the active tenants flagged. */
    List<String> flaggedSlugs() {
        return Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT t.slug FROM mail_pending p JOIN tenants t ON t.id = p.tenant_id WHERE t.status = 'active' ORDER BY t.slug
                    """);
                 ResultSet rs = select.executeQuery()) {
                List<String> slugs = new ArrayList<>();
                while (rs.next()) {
                    slugs.add(rs.getString(1));
                }
                return slugs;
            }
        });
    }
}
