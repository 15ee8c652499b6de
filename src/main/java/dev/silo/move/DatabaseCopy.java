package dev.silo.move;

import dev.silo.platform.db.Sql;
import dev.silo.platform.db.TenantTables;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyManager;
import org.postgresql.copy.CopyOut;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static java.util.Objects.requireNonNull;

/**
 * Copies one tenant database to another server while it is in use, over two connections that both log in as the
 * tenant's own role: the bulk of the rows once, in one REPEATABLE READ snapshot (binary COPY streamed from the source
 * straight into the target), then the rows changed since, in rounds, until a round under the write freeze finds none.
 *
 * <p><b>The change log</b> ({@link #installChangeLog}): an AFTER ROW trigger on every table writes the primary key of
 * each inserted, updated or deleted row to {@code silo_move_log}, created at move time (not a tenant migration: it
 * exists only while a move runs). The triggers commit before the snapshot is taken, and creating one waits for the
 * writes in progress on its table, so every change the snapshot misses is in the log. A round
 * ({@link #applyChanges}) deletes the log entries it can see and, in the same REPEATABLE READ snapshot, reads the
 * current rows of those keys: rows gone are deleted on the target (children first), rows present are upserted
 * (parents first; an unchanged row is left alone, so the append-only audit trigger never fires; a row whose values
 * in a unique index change is parked first, so that rows swapping a unique value in one transaction do not collide on
 * the target, see {@link #park}). Entries of writes still in flight stay for the next round; a round is idempotent,
 * so one that failed halfway is simply repeated.
 *
 * <p><b>The checks</b>: a round can compare the row counts of every table on both sides as of its snapshot (the
 * last one before the freeze, {@link Check#COUNT_ROWS}); the rounds under the freeze keep their keys, and
 * {@link #verifyChanged} compares those rows one by one, which reads what changed rather than the whole tenant.
 */
final class DatabaseCopy {
    static final String LOG_TABLE = "silo_move_log";
    /** A temporary table of the rounds' source session: the keys the rounds under the freeze carried. */
    private static final String CHECKED_TABLE = "silo_move_checked";
    private static final String CAPTURE_FUNCTION = "silo_move_capture";
    private static final String TRIGGER = "silo_move_capture";

    private DatabaseCopy() {}

    /**
     * A table, its columns, primary-key columns and unique indexes besides the primary key, all plain identifiers
     * (checked by {@link Sql#identifier}).
     */
    record Table(String name, List<String> columns, List<String> keys, List<Unique> uniques) {
        Table {
            requireNonNull(name, "name is null");
            columns = List.copyOf(columns);
            keys = List.copyOf(keys);
            uniques = List.copyOf(uniques);
        }

        String quoted() {
            return Sql.identifier(name);
        }

        String columnList() {
            return columns.stream().map(Sql::identifier).collect(Collectors.joining(", "));
        }

        /** {@code t.k1 = (jsonb_populate_record(NULL::table, b.pk)).k1 AND ...}: a row of the table matched to a logged key. */
        String keyMatch(String row, String key) {
            return keys.stream().map(k -> row + "." + Sql.identifier(k) + " = (jsonb_populate_record(NULL::" + quoted() + ", "
                    + key + "))." + Sql.identifier(k)).collect(Collectors.joining(" AND "));
        }
    }

    /**
     * A unique index other than the primary key: the columns it reads (in its expressions and predicate too), and
     * the one a round parks while it rewrites the index's values, when the index has one: a text or uuid column
     * outside the primary key and every foreign key (a parked value must keep its row's key and its references).
     * Without one, two rows that swap the index's values in one transaction fail the round with a unique violation.
     */
    record Unique(String index, List<String> columns, String parkColumn, boolean parkUuid) {
        Unique {
            requireNonNull(index, "index is null");
            columns = List.copyOf(columns);
        }
    }

    private static final String UNIQUES = """
            SELECT ic.relname, a.attname, a.atttypid = 'uuid'::regtype AS is_uuid,
                   a.atttypid IN ('text'::regtype, 'character varying'::regtype, 'uuid'::regtype) AND a.attgenerated = ''
                     AND NOT EXISTS (SELECT 1 FROM pg_index p WHERE p.indrelid = i.indrelid AND p.indisprimary
                                     AND a.attnum = ANY (p.indkey))
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.contype = 'f'
                                     AND a.attnum = ANY (c.conkey)) AS parkable
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
               AND (a.attnum = ANY (i.indkey) OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = i.indexrelid AND d.refobjid = i.indrelid AND d.refobjsubid = a.attnum))
            WHERE i.indrelid = ('public.' || quote_ident(?))::regclass AND i.indisunique AND NOT i.indisprimary
            ORDER BY ic.relname, a.attnum
            """;

    private static final String COLUMNS = """
            SELECT a.attname, coalesce(a.attnum = ANY (i.indkey), false) FROM pg_attribute a
              LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
            WHERE a.attrelid = ('public.' || quote_ident(?))::regclass AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attgenerated = ''
            ORDER BY a.attnum
            """;

    /**
     * The tables of the tenant's schema (but Flyway's history, which the target's own migration wrote, and the
     * move's log), parents before the tables that reference them. A table without a primary key cannot be
     * followed by key and fails the move before anything is copied.
     */
    static List<Table> tables(Connection connection) throws SQLException {
        List<String> ordered = TenantTables.parentsFirst(connection, name -> true);
        List<Table> tables = new ArrayList<>();
        for (String name : ordered) {
            Sql.identifier(name);
            List<String> columns = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(COLUMNS)) {
                select.setString(1, name);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        Sql.identifier(rs.getString(1));
                        columns.add(rs.getString(1));
                        if (rs.getBoolean(2)) {
                            keys.add(rs.getString(1));
                        }
                    }
                }
            }
            if (keys.isEmpty()) {
                throw new IllegalStateException("table " + name + " has no primary key, so its changes cannot be followed");
            }
            tables.add(new Table(name, columns, keys, uniques(connection, name)));
        }
        return tables;
    }

    private static List<Unique> uniques(Connection connection, String table) throws SQLException {
        Map<String, List<String>> columns = new LinkedHashMap<>();
        Map<String, String> park = new LinkedHashMap<>();
        Map<String, Boolean> parkUuid = new LinkedHashMap<>();
        try (PreparedStatement select = connection.prepareStatement(UNIQUES)) {
            select.setString(1, table);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    String index = rs.getString(1);
                    String column = rs.getString(2);
                    Sql.identifier(column);
                    columns.computeIfAbsent(index, i -> new ArrayList<>()).add(column);
                    if (rs.getBoolean(4) && !park.containsKey(index)) {
                        park.put(index, column);
                        parkUuid.put(index, rs.getBoolean(3));
                    }
                }
            }
        }
        List<Unique> uniques = new ArrayList<>();
        columns.forEach((index, read) -> uniques.add(new Unique(index, read, park.get(index),
                parkUuid.getOrDefault(index, false))));
        return uniques;
    }

    /** Creates the change log and its triggers on the source, in one transaction (waiting for writes in progress). */
    static void installChangeLog(Connection source, List<Table> tables) throws SQLException {
        boolean autoCommit = source.getAutoCommit();
        source.setAutoCommit(false);
        try (Statement statement = source.createStatement()) {
            statement.execute("SET LOCAL lock_timeout = '30s'");
            statement.execute("CREATE TABLE IF NOT EXISTS " + LOG_TABLE + " (id bigserial PRIMARY KEY, tbl text NOT NULL, "
                    + "pk jsonb NOT NULL)");
            // The key columns come as trigger arguments; an UPDATE logs the old key too (in case the key changed).
            statement.execute("""
                    CREATE OR REPLACE FUNCTION silo_move_capture() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF TG_OP IN ('UPDATE', 'DELETE') THEN
                            INSERT INTO silo_move_log (tbl, pk)
                            SELECT TG_TABLE_NAME, jsonb_object_agg(k, to_jsonb(OLD) -> k) FROM unnest(TG_ARGV) k;
                        END IF;
                        IF TG_OP IN ('INSERT', 'UPDATE') THEN
                            INSERT INTO silo_move_log (tbl, pk)
                            SELECT TG_TABLE_NAME, jsonb_object_agg(k, to_jsonb(NEW) -> k) FROM unnest(TG_ARGV) k;
                        END IF;
                        RETURN NULL;
                    END
                    $$""");
            for (Table table : tables) {
                statement.execute("DROP TRIGGER IF EXISTS " + TRIGGER + " ON " + table.quoted());
                statement.execute("CREATE TRIGGER " + TRIGGER + " AFTER INSERT OR UPDATE OR DELETE ON " + table.quoted()
                        + " FOR EACH ROW EXECUTE FUNCTION " + CAPTURE_FUNCTION + "("
                        + table.keys().stream().map(DatabaseCopy::literal).collect(Collectors.joining(", ")) + ")");
            }
            source.commit();
        } catch (SQLException | RuntimeException e) {
            source.rollback();
            throw e;
        } finally {
            source.setAutoCommit(autoCommit);
        }
    }

    /** Removes the triggers, the function and the log (after a failed move, or an interrupted one found later). */
    static void removeChangeLog(Connection source) throws SQLException {
        boolean autoCommit = source.getAutoCommit();
        source.setAutoCommit(false);
        try (Statement statement = source.createStatement()) {
            statement.execute("SET LOCAL lock_timeout = '30s'");
            // CASCADE drops the triggers that use the function.
            statement.execute("DROP FUNCTION IF EXISTS " + CAPTURE_FUNCTION + "() CASCADE");
            statement.execute("DROP TABLE IF EXISTS " + LOG_TABLE);
            source.commit();
        } catch (SQLException | RuntimeException e) {
            source.rollback();
            throw e;
        } finally {
            source.setAutoCommit(autoCommit);
        }
    }

    /**
     * Copies every row as of one REPEATABLE READ snapshot of the source into the (empty, migrated) target, in one
     * target transaction; returns rows per table.
     */
    static Map<String, Long> copySnapshot(Connection source, Connection target, List<Table> tables) throws SQLException {
        source.setAutoCommit(false);
        source.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        source.setReadOnly(true);
        target.setAutoCommit(false);
        try {
            try (Statement statement = target.createStatement()) {
                statement.execute("TRUNCATE " + tables.stream().map(Table::quoted).collect(Collectors.joining(", ")));
            }
            Map<String, Long> rows = new LinkedHashMap<>();
            for (Table table : tables) {
                rows.put(table.name(), stream(source, "COPY (SELECT " + table.columnList() + " FROM " + table.quoted()
                        + ") TO STDOUT (FORMAT binary)", target, "COPY " + table.quoted() + " (" + table.columnList()
                        + ") FROM STDIN (FORMAT binary)"));
                resetSequences(target, table);
            }
            target.commit();
            source.commit();
            return rows;
        } catch (SQLException | RuntimeException e) {
            target.rollback();
            source.rollback();
            throw e;
        } finally {
            source.setReadOnly(false);
            source.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
            source.setAutoCommit(true);
            target.setAutoCommit(true);
        }
    }

    /** What a round does besides bringing the changes over. */
    enum Check {
        /** Nothing more. */
        NONE,
        /**
         * Compares the row counts of every table: the source's in the round's snapshot, the target's once the round
         * is applied (the whole tenant is read; done before the freeze, while writes go on).
         */
        COUNT_ROWS,
        /** Keeps the round's keys on the source connection for {@link #verifyChanged} (the rounds under the freeze). */
        KEEP_KEYS
    }

    /** What a round carried: its distinct keys, and with {@link Check#COUNT_ROWS} the rows per table (else empty). */
    record Round(int keys, Map<String, Long> rows) {}

    /**
     * One round of changes: the keys logged (and committed) since the last round, brought to the target as the
     * source holds them now. Returns how many distinct keys the round carried (0: the target matches the source as
     * of the round's snapshot).
     */
    static int applyChanges(Connection source, Connection target, List<Table> tables) throws SQLException {
        return applyChanges(source, target, tables, Check.NONE).keys();
    }

    /**
     * A round ({@link #applyChanges(Connection, Connection, List)}) with a check; with {@link Check#COUNT_ROWS} a
     * mismatch fails the round (nothing of it is committed).
     */
    static Round applyChanges(Connection source, Connection target, List<Table> tables, Check check) throws SQLException {
        source.setAutoCommit(false);
        source.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        target.setAutoCommit(false);
        try {
            int keys;
            try (Statement statement = source.createStatement()) {
                statement.execute("CREATE TEMP TABLE silo_move_batch (tbl text NOT NULL, pk jsonb NOT NULL) ON COMMIT DROP");
                keys = statement.executeUpdate("WITH taken AS (DELETE FROM " + LOG_TABLE + " RETURNING tbl, pk) "
                        + "INSERT INTO silo_move_batch SELECT DISTINCT tbl, pk FROM taken");
                if (check == Check.KEEP_KEYS && keys > 0) {
                    statement.executeUpdate("INSERT INTO " + CHECKED_TABLE + " SELECT tbl, pk FROM silo_move_batch");
                }
            }
            if (keys > 0) {
                for (Table table : tables.reversed()) {
                    deleteGone(source, target, table);
                }
                for (Table table : tables) {
                    upsertPresent(source, target, table);
                }
            }
            Map<String, Long> rows = Map.of();
            if (check == Check.COUNT_ROWS) {
                rows = count(source, tables);
                Map<String, Long> targetRows = count(target, tables);
                if (!rows.equals(targetRows)) {
                    throw new IllegalStateException("the copy does not match: the source holds " + rows + " rows and the "
                            + "target " + targetRows);
                }
            }
            target.commit();
            source.commit();
            return new Round(keys, rows);
        } catch (SQLException | RuntimeException e) {
            target.rollback();
            source.rollback();
            throw e;
        } finally {
            source.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
            source.setAutoCommit(true);
            target.setAutoCommit(true);
        }
    }

    /** Empties (creating it first if need be) the source session's list of keys kept by {@link Check#KEEP_KEYS}. */
    static void forgetKeptKeys(Connection source) throws SQLException {
        try (Statement statement = source.createStatement()) {
            statement.execute("CREATE TEMP TABLE IF NOT EXISTS " + CHECKED_TABLE + " (tbl text NOT NULL, pk jsonb NOT NULL)");
            statement.execute("TRUNCATE " + CHECKED_TABLE);
        }
    }

    /**
     * Under the freeze, after the last round: every row the rounds kept the keys of (changed since the rounds that
     * compared the row counts) is the same on both sides, or absent from both. Reads what the rows changed, not the
     * whole tenant. Returns how many rows it compared; a difference fails the move (no row's value is named).
     */
    static int verifyChanged(Connection source, Connection target, List<Table> tables) throws SQLException {
        int compared = 0;
        for (Table table : tables) {
            Map<String, String> onSource = new LinkedHashMap<>();
            try (PreparedStatement select = source.prepareStatement("SELECT k.pk::text, " + rowDigest(table) + " FROM "
                    + "(SELECT DISTINCT pk FROM " + CHECKED_TABLE + " WHERE tbl = ?) k LEFT JOIN " + table.quoted() + " t ON "
                    + table.keyMatch("t", "k.pk"))) {
                select.setString(1, table.name());
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        onSource.put(rs.getString(1), rs.getString(2));
                    }
                }
            }
            if (onSource.isEmpty()) {
                continue;
            }
            Map<String, String> onTarget = new LinkedHashMap<>();
            try (PreparedStatement select = target.prepareStatement("SELECT k.pk::text, " + rowDigest(table) + " FROM "
                    + "jsonb_array_elements(?::jsonb) k(pk) LEFT JOIN " + table.quoted() + " t ON " + table.keyMatch("t", "k.pk"))) {
                select.setString(1, "[" + String.join(", ", onSource.keySet()) + "]");
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        onTarget.put(rs.getString(1), rs.getString(2));
                    }
                }
            }
            long differ = onSource.entrySet().stream()
                    .filter(entry -> !java.util.Objects.equals(entry.getValue(), onTarget.get(entry.getKey()))).count();
            if (differ > 0 || onTarget.size() != onSource.size()) {
                throw new IllegalStateException("the copy does not match: " + differ + " of the " + onSource.size() + " rows of "
                        + table.name() + " changed during the move differ between the source and the target");
            }
            compared += onSource.size();
        }
        return compared;
    }

    /** The row {@code t}'s digest (null when no row matched): its columns' text forms, which both servers write alike. */
    private static String rowDigest(Table table) {
        return "CASE WHEN t." + Sql.identifier(table.keys().getFirst()) + " IS NULL THEN NULL ELSE md5(ROW("
                + table.columns().stream().map(c -> "t." + Sql.identifier(c)).collect(Collectors.joining(", ")) + ")::text) END";
    }

    private static void deleteGone(Connection source, Connection target, Table table) throws SQLException {
        String gone;
        try (PreparedStatement select = source.prepareStatement("SELECT coalesce(jsonb_agg(b.pk), '[]') FROM silo_move_batch b "
                + "WHERE b.tbl = ? AND NOT EXISTS (SELECT 1 FROM " + table.quoted() + " t WHERE " + table.keyMatch("t", "b.pk") + ")")) {
            select.setString(1, table.name());
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                gone = rs.getString(1);
            }
        }
        if (gone.equals("[]")) {
            return;
        }
        String match = table.keys().stream().map(k -> "t." + Sql.identifier(k) + " = g." + Sql.identifier(k))
                .collect(Collectors.joining(" AND "));
        try (PreparedStatement delete = target.prepareStatement("DELETE FROM " + table.quoted() + " t USING "
                + "jsonb_populate_recordset(NULL::" + table.quoted() + ", ?::jsonb) g WHERE " + match)) {
            delete.setString(1, gone);
            delete.executeUpdate();
        }
    }

    private static void upsertPresent(Connection source, Connection target, Table table) throws SQLException {
        String stage = "silo_move_stage_" + table.name();
        if (stage.length() > 63) {
            stage = stage.substring(0, 63);
        }
        try (Statement statement = target.createStatement()) {
            statement.execute("CREATE TEMP TABLE IF NOT EXISTS " + Sql.identifier(stage) + " (LIKE " + table.quoted()
                    + ") ON COMMIT DELETE ROWS");
        }
        long rows = stream(source, "COPY (SELECT " + table.columns().stream().map(c -> "t." + Sql.identifier(c))
                .collect(Collectors.joining(", ")) + " FROM " + table.quoted() + " t WHERE EXISTS (SELECT 1 FROM silo_move_batch b "
                + "WHERE b.tbl = " + literal(table.name()) + " AND " + table.keyMatch("t", "b.pk") + ")) TO STDOUT (FORMAT binary)",
                target, "COPY " + Sql.identifier(stage) + " (" + table.columnList() + ") FROM STDIN (FORMAT binary)");
        if (rows == 0) {
            return;
        }
        park(target, table, stage);
        List<String> others = table.columns().stream().filter(c -> !table.keys().contains(c)).toList();
        String conflict = others.isEmpty() ? "DO NOTHING" : "DO UPDATE SET "
                + others.stream().map(c -> Sql.identifier(c) + " = excluded." + Sql.identifier(c)).collect(Collectors.joining(", "))
                + " WHERE (" + others.stream().map(c -> table.quoted() + "." + Sql.identifier(c)).collect(Collectors.joining(", "))
                + ") IS DISTINCT FROM (" + others.stream().map(c -> "excluded." + Sql.identifier(c)).collect(Collectors.joining(", ")) + ")";
        if (others.size() == 1) {
            // A one-column row constructor needs ROW(...).
            conflict = "DO UPDATE SET " + Sql.identifier(others.getFirst()) + " = excluded." + Sql.identifier(others.getFirst())
                    + " WHERE " + table.quoted() + "." + Sql.identifier(others.getFirst()) + " IS DISTINCT FROM excluded."
                    + Sql.identifier(others.getFirst());
        }
        try (Statement statement = target.createStatement()) {
            statement.executeUpdate("INSERT INTO " + table.quoted() + " (" + table.columnList() + ") SELECT " + table.columnList()
                    + " FROM " + Sql.identifier(stage) + " ON CONFLICT (" + table.keys().stream().map(Sql::identifier)
                    .collect(Collectors.joining(", ")) + ") " + conflict);
        }
    }

    /**
     * Before the staged rows are written: every target row of the round whose values in a unique index change gets
     * a unique stand-in in that index's park column. Writing the rows one by one would otherwise meet a value that
     * another row of the same round is about to give up (two rows that swapped their emails in one transaction,
     * say), a violation PostgreSQL reports at once for a unique index that is not deferrable. A row whose index
     * values change is in the round (the source's snapshot held each value once, so the row that held it on the
     * target changed too), so every stand-in is overwritten by the upsert that follows, in the same transaction.
     * Parking updates the row in place, where deleting and inserting it would cascade to the rows referencing it.
     */
    private static void park(Connection target, Table table, String stage) throws SQLException {
        String match = table.keys().stream().map(k -> "t." + Sql.identifier(k) + " = s." + Sql.identifier(k))
                .collect(Collectors.joining(" AND "));
        for (Unique unique : table.uniques()) {
            if (unique.parkColumn() == null) {
                continue;
            }
            String standIn = unique.parkUuid() ? "gen_random_uuid()" : "'silo-move-parked:' || gen_random_uuid()";
            String changed = "ROW(" + unique.columns().stream().map(c -> "t." + Sql.identifier(c)).collect(Collectors.joining(", "))
                    + ") IS DISTINCT FROM ROW(" + unique.columns().stream().map(c -> "s." + Sql.identifier(c))
                    .collect(Collectors.joining(", ")) + ")";
            try (Statement statement = target.createStatement()) {
                statement.executeUpdate("UPDATE " + table.quoted() + " t SET " + Sql.identifier(unique.parkColumn()) + " = "
                        + standIn + " FROM " + Sql.identifier(stage) + " s WHERE " + match + " AND " + changed);
            }
        }
    }

    /** A name Silo read from the catalog as a string literal; only plain identifiers ({@link Sql#identifier}) pass. */
    private static String literal(String name) {
        Sql.identifier(name);
        return "'" + name + "'";
    }

    /** Row counts of every table. */
    static Map<String, Long> count(Connection connection, List<Table> tables) throws SQLException {
        Map<String, Long> rows = new LinkedHashMap<>();
        try (Statement statement = connection.createStatement()) {
            for (Table table : tables) {
                try (ResultSet rs = statement.executeQuery("SELECT count(*) FROM " + table.quoted())) {
                    rs.next();
                    rows.put(table.name(), rs.getLong(1));
                }
            }
        }
        return rows;
    }

    /** Streams one COPY TO STDOUT of the source into one COPY FROM STDIN of the target; returns the rows. */
    private static long stream(Connection source, String out, Connection target, String in) throws SQLException {
        CopyManager from = source.unwrap(PGConnection.class).getCopyAPI();
        CopyManager to = target.unwrap(PGConnection.class).getCopyAPI();
        CopyOut copyOut = from.copyOut(out);
        CopyIn copyIn;
        try {
            copyIn = to.copyIn(in);
        } catch (SQLException | RuntimeException e) {
            copyOut.cancelCopy();
            throw e;
        }
        try {
            byte[] chunk;
            while ((chunk = copyOut.readFromCopy()) != null) {
                copyIn.writeToCopy(chunk, 0, chunk.length);
            }
            return copyIn.endCopy();
        } catch (SQLException | RuntimeException e) {
            if (copyIn.isActive()) {
                copyIn.cancelCopy();
            }
            if (copyOut.isActive()) {
                copyOut.cancelCopy();
            }
            throw e;
        }
    }

    private static void resetSequences(Connection connection, Table table) throws SQLException {
        for (String column : table.columns()) {
            try (PreparedStatement select = connection.prepareStatement("SELECT pg_get_serial_sequence(?, ?)")) {
                select.setString(1, "public." + table.quoted());
                select.setString(2, column);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next() || rs.getString(1) == null) {
                        continue;
                    }
                    try (PreparedStatement set = connection.prepareStatement("SELECT setval(?, coalesce((SELECT max("
                            + Sql.identifier(column) + ") FROM " + table.quoted() + "), 0) + 1, false)")) {
                        set.setString(1, rs.getString(1));
                        set.execute();
                    }
                }
            }
        }
    }
}
