package dev.silo.platform.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The data tables of a tenant database ({@code public}, without Flyway's history and a move's {@code silo_move_*}
 * tables) in foreign-key order, parents first, so that rows can be loaded table by table with the constraints on:
 * what a logical backup's snapshot and a tenant move both copy.
 */
public final class TenantTables {
    private static final String TABLES = """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'flyway_schema_history'
              AND c.relname NOT LIKE 'silo\\_move\\_%'
            ORDER BY c.relname
            """;
    private static final String REFERENCES = """
            SELECT c.relname, p.relname FROM pg_constraint k
              JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'f' AND n.nspname = 'public' AND c.oid <> p.oid
            """;

    private TenantTables() {}

    /** The names of the tables {@code include} accepts, each after the tables it references. */
    public static List<String> parentsFirst(Connection connection, Predicate<String> include) throws SQLException {
        List<String> names = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement(TABLES); ResultSet rs = select.executeQuery()) {
            while (rs.next()) {
                if (include.test(rs.getString(1))) {
                    names.add(rs.getString(1));
                }
            }
        }
        Map<String, Set<String>> parents = new HashMap<>();
        try (PreparedStatement select = connection.prepareStatement(REFERENCES); ResultSet rs = select.executeQuery()) {
            while (rs.next()) {
                parents.computeIfAbsent(rs.getString(1), k -> new LinkedHashSet<>()).add(rs.getString(2));
            }
        }
        Set<String> ordered = new LinkedHashSet<>();
        for (String name : names) {
            visit(name, names, parents, ordered, new LinkedHashSet<>());
        }
        return List.copyOf(ordered);
    }

    private static void visit(String name, List<String> names, Map<String, Set<String>> parents, Set<String> ordered,
                              Set<String> path) {
        if (ordered.contains(name) || !path.add(name)) {
            return; // done, or a cycle of references (then the order within it does not matter to COPY's checks: none)
        }
        for (String parent : parents.getOrDefault(name, Set.of())) {
            if (names.contains(parent)) {
                visit(parent, names, parents, ordered, path);
            }
        }
        ordered.add(name);
    }
}
