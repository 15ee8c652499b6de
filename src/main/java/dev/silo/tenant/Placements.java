package dev.silo.tenant;

import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.NotFound;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * PostgreSQL servers that hold tenant databases. The embedded server is the default placement; others are
 * registered with an admin account that has CREATEDB and CREATEROLE, stored wrapped by the master key, and
 * always reached over TLS ({@code require} at least, {@code verify-full} when a CA is given).
 */
public final class Placements {
    public static final String EMBEDDED = "embedded";
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{1,39}");

    private final DataSource catalog;
    private final Envelope envelope;
    private final Optional<EmbeddedPostgresServer> embedded;
    private final PlatformAudit audit;
    private final Clock clock;
    private final Map<UUID, Row> rows = new ConcurrentHashMap<>();

    private final Optional<DatabaseUrl> catalogServer;

    /**
     * @param catalogServer on a node without the embedded server, the catalog's location: the embedded placement
     *     is then the server the catalog lives on (a node sharing the catalog of an embedded node)
     */
    public Placements(DataSource catalog, Envelope envelope, Optional<EmbeddedPostgresServer> embedded, Optional<DatabaseUrl> catalogServer,
                      PlatformAudit audit, Clock clock) {
        this.catalogServer = requireNonNull(catalogServer, "catalogServer is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.embedded = requireNonNull(embedded, "embedded is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** @param accepting false once drained ({@link #setAccepting}): no new tenant and no move lands there */
    public record Placement(UUID id, String name, String kind, Instant createdAt, int liveTenants, boolean accepting) {}

    private record Row(UUID id, String name, String kind, byte[] adminUrlWrapped, String caCertificate) {}

    /** Registers the embedded server as a placement on first start. */
    public void ensureEmbedded() {
        if (embedded.isEmpty()) {
            return;
        }
        Sql.withConnection(catalog, connection -> {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO placements (id, name, kind, created_at) VALUES (?, 'embedded', 'embedded', ?)
                    ON CONFLICT (name) DO NOTHING
                    """)) {
                insert.setObject(1, UUID.randomUUID());
                insert.setTimestamp(2, TenantRepository.ts(clock.instant()));
                insert.executeUpdate();
            }
            return null;
        });
    }

    public List<Placement> list() {
        return Sql.withConnection(catalog, connection -> {
            List<Placement> placements = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT p.id, p.name, p.kind, p.created_at, p.accepting,
                           (SELECT count(*) FROM tenants t WHERE t.placement_id = p.id AND t.status <> 'purged') AS live
                    FROM placements p ORDER BY p.created_at
                    """); ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    placements.add(new Placement(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("kind"),
                            TenantRepository.instant(rs, "created_at"), rs.getInt("live"),
                            rs.getBoolean("accepting")));
                }
            }
            return placements;
        });
    }

    /**
     * Registers a PostgreSQL server. The admin URL is checked before it is stored: it must connect over TLS and
     * hold CREATEDB and CREATEROLE (or be a superuser).
     */
    public Placement add(String name, String adminUrl, String caCertificatePem, Actor actor) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new BadRequest("invalid-placement-name", "a placement name is 2-40 characters: lowercase letters, digits and '-', starting with a letter");
        }
        DatabaseUrl url;
        try {
            url = DatabaseUrl.parse("the admin URL", adminUrl);
        } catch (ConfigException e) {
            throw new BadRequest("invalid-admin-url", e.getMessage());
        }
        UUID id = UUID.randomUUID();
        Row row = new Row(id, name, "external", envelope.wrapString(adminUrl, adminContext(id)), caCertificatePem);
        DatabaseUrl checked = withTls(url, row);
        try (Connection connection = DriverManager.getConnection(checked.jdbcUrl(), checked.properties());
             PreparedStatement check = connection.prepareStatement("""
                     SELECT r.rolsuper OR (r.rolcreatedb AND r.rolcreaterole), s.ssl, current_setting('server_version_num')::int
                     FROM pg_roles r, pg_stat_ssl s WHERE r.rolname = current_user AND s.pid = pg_backend_pid()
                     """);
             ResultSet rs = check.executeQuery()) {
            rs.next();
            if (!rs.getBoolean(1)) {
                throw new BadRequest("insufficient-privileges", "the admin account needs CREATEDB and CREATEROLE on " + url);
            }
            if (!rs.getBoolean(2)) {
                throw new BadRequest("tls-required", "the connection to " + url + " is not encrypted");
            }
            if (rs.getInt(3) < 140000) {
                throw new BadRequest("unsupported-version", "PostgreSQL 14 or newer is required at " + url);
            }
        } catch (SQLException e) {
            throw new BadRequest("placement-unreachable", "cannot connect to " + url + " over TLS: " + e.getMessage());
        }
        try {
            Sql.inTransaction(catalog, connection -> {
                try (PreparedStatement insert = connection.prepareStatement("""
                        INSERT INTO placements (id, name, kind, admin_url_wrapped, ca_certificate, created_at)
                        VALUES (?, ?, 'external', ?, ?, ?)
                        """)) {
                    insert.setObject(1, id);
                    insert.setString(2, name);
                    insert.setBytes(3, row.adminUrlWrapped());
                    insert.setString(4, caCertificatePem);
                    insert.setTimestamp(5, TenantRepository.ts(clock.instant()));
                    insert.executeUpdate();
                }
                audit.append(connection, actor, "placement.add", "placement:" + name, Map.of("server", url.host() + ":" + url.port()));
                return null;
            });
        } catch (Conflict e) {
            throw new Conflict("placement-exists", "a placement named '" + name + "' already exists");
        }
        return new Placement(id, name, "external", clock.instant(), 0, true);
    }

    /** The named placement, or the accepting one with the fewest live tenants; a drained one is refused. */
    public Placement choose(Optional<String> name) {
        return choose(name, Optional.empty());
    }

    /**
     * As {@link #choose(Optional)}, never {@code except} (the placement a tenant moves off). Only placements this
     * node can reach: an external one, or the embedded one where it runs.
     */
    public Placement choose(Optional<String> name, Optional<UUID> except) {
        if (name.isPresent()) {
            Placement named = find(name.get());
            if (!named.accepting()) {
                throw new Conflict("placement-draining", "placement '" + named.name() + "' is drained and takes no tenants");
            }
            return named;
        }
        return list().stream()
                .filter(p -> p.kind().equals("external") || embedded.isPresent())
                .filter(Placement::accepting)
                .filter(p -> except.isEmpty() || !p.id().equals(except.get()))
                .min((a, b) -> Integer.compare(a.liveTenants(), b.liveTenants()))
                .orElseThrow(() -> new Conflict("no-placement", "no PostgreSQL server to put tenants on: register one with "
                        + "`silo placements add NAME --admin-url postgres://...`"));
    }

    /** The placement with this name (any well-formed name; an unknown one is a 404 problem). */
    public Placement find(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new NotFound("placement-not-found", "no placement named '" + describe(name) + "'");
        }
        return list().stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new NotFound("placement-not-found", "no placement named '" + name + "'"));
    }

    /** Opens or closes the placement to new tenants and moves ({@code silo placements drain} closes it), audited. */
    public Placement setAccepting(String name, boolean accepting, Actor actor) {
        Placement placement = find(name);
        Sql.inTransaction(catalog, connection -> {
            try (PreparedStatement update = connection.prepareStatement("UPDATE placements SET accepting = ? WHERE id = ?")) {
                update.setBoolean(1, accepting);
                update.setObject(2, placement.id());
                update.executeUpdate();
            }
            audit.append(connection, actor, accepting ? "placement.accept" : "placement.drain", "placement:" + name,
                    Map.of("placement_id", placement.id().toString()));
            return null;
        });
        return find(name);
    }

    private static String describe(String name) {
        if (name == null) {
            return "";
        }
        String cut = name.length() > 40 ? name.substring(0, 40) + "..." : name;
        return cut.replaceAll("[^a-z0-9-]", "?");
    }

    /**
     * The admin account's location on the placement, for provisioning and purging only; {@code database} null
     * means the admin URL's own database.
     */
    public DatabaseUrl adminUrl(UUID placementId, String database) {
        Row row = row(placementId);
        if (row.kind().equals("embedded")) {
            String name = database == null ? "postgres" : database;
            if (embedded.isPresent()) {
                return embedded.get().adminUrl(name);
            }
            return catalogServer.orElseThrow(() -> new IllegalStateException("the embedded placement is not available on this node"))
                    .withDatabase(name);
        }
        DatabaseUrl url = DatabaseUrl.parse("placement " + row.name(), envelope.unwrapString(row.adminUrlWrapped(), adminContext(row.id())));
        return withTls(database == null ? url : url.withDatabase(database), row);
    }

    /** Where the tenant's own role connects to its database. */
    public DatabaseUrl tenantUrl(Tenant tenant) {
        String credentials = envelope.unwrapString(tenant.credentialsWrapped(), tenant.credentialsContext());
        if (tenant.attached()) {
            return DatabaseUrl.parse("tenant " + tenant.slug(), credentials);
        }
        return adminUrl(tenant.placementId(), tenant.databaseName()).withCredentials(tenant.roleName(), credentials);
    }

    public String placementName(UUID placementId) {
        return row(placementId).name();
    }

    private DatabaseUrl withTls(DatabaseUrl url, Row row) {
        if (row.caCertificate() == null || row.caCertificate().isBlank()) {
            return url;
        }
        return new DatabaseUrl(url.host(), url.port(), url.database(), url.user(), url.password(), "verify-full", url.parameters())
                .withParameter("sslfactory", "org.postgresql.ssl.SingleCertValidatingFactory")
                .withParameter("sslfactoryarg", row.caCertificate());
    }

    private Row row(UUID placementId) {
        return rows.computeIfAbsent(placementId, id -> Sql.withConnection(catalog, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT id, name, kind, admin_url_wrapped, ca_certificate FROM placements WHERE id = ?")) {
                select.setObject(1, id);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw new IllegalStateException("unknown placement " + id);
                    }
                    return new Row(id, rs.getString("name"), rs.getString("kind"), rs.getBytes("admin_url_wrapped"),
                            rs.getString("ca_certificate"));
                }
            }
        }));
    }

    private static String adminContext(UUID placementId) {
        return "placement/" + placementId + "/admin-url";
    }
}
