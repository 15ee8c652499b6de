package dev.silo.backup.logical;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.silo.platform.db.Sql;
import dev.silo.platform.db.TenantTables;
import dev.silo.platform.http.Json;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyManager;
import org.postgresql.copy.CopyOut;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static java.util.Objects.requireNonNull;

/**
 * The body of a logical snapshot: every table of a database's {@code public} schema (but Flyway's history, which
 * the restore rebuilds by migrating), as binary {@code COPY} data, read in one transaction the caller opened
 * REPEATABLE READ READ ONLY, so the tables are consistent with each other.
 *
 * <p><b>Format</b> (version 1): the magic {@code SILOSNAP1\n}; a frame holding the manifest (JSON: the schema
 * version, the tables in foreign-key order, each with its columns); per table, frames of COPY data ended by an empty
 * frame; a last frame holding the trailer (JSON: rows per table). A frame is a 4-byte big-endian length and that
 * many bytes. The whole body is then compressed and encrypted by whoever stores it.
 */
final class Snapshot {
    static final byte[] MAGIC = "SILOSNAP1\n".getBytes(StandardCharsets.US_ASCII);
    private static final int MAX_FRAME = 64 * 1024 * 1024;

    private Snapshot() {}

    /** A table and its columns (in the order of the COPY data). */
    record Table(String name, List<String> columns) {
        Table {
            requireNonNull(name, "name is null");
            columns = List.copyOf(columns);
        }

        String copyColumns() {
            return String.join(", ", columns.stream().map(Sql::identifier).toList());
        }
    }

    record Manifest(String schemaVersion, List<Table> tables) {
        Manifest {
            requireNonNull(schemaVersion, "schemaVersion is null");
            tables = List.copyOf(tables);
        }

        byte[] toJson() {
            ObjectNode root = Json.MAPPER.createObjectNode();
            root.put("schema_version", schemaVersion);
            ArrayNode list = root.putArray("tables");
            for (Table table : tables) {
                ObjectNode node = list.addObject();
                node.put("name", table.name());
                ArrayNode columns = node.putArray("columns");
                table.columns().forEach(columns::add);
            }
            return write(root);
        }

        static Manifest parse(byte[] json) throws IOException {
            JsonNode root = Json.MAPPER.readTree(json);
            List<Table> tables = new ArrayList<>();
            for (JsonNode table : root.path("tables")) {
                List<String> columns = new ArrayList<>();
                table.path("columns").forEach(column -> columns.add(column.asText()));
                tables.add(new Table(table.path("name").asText(), columns));
            }
            return new Manifest(root.path("schema_version").asText(), tables);
        }
    }

    private static byte[] write(Object value) {
        try {
            return Json.MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final String COLUMNS = """
            SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = ('public.' || quote_ident(?))::regclass AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attgenerated = ''
            ORDER BY a.attnum
            """;

    /** The tables of {@code public} (those {@code include} accepts), parents before the tables that reference them. */
    static List<Table> tables(Connection connection, Predicate<String> include) throws SQLException {
        List<String> ordered = TenantTables.parentsFirst(connection, include);
        List<Table> tables = new ArrayList<>();
        for (String name : ordered) {
            List<String> columns = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(COLUMNS)) {
                select.setString(1, name);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        columns.add(rs.getString(1));
                    }
                }
            }
            tables.add(new Table(name, columns));
        }
        return tables;
    }

    /**
     * The snapshot as a stream, produced as it is read: each read pulls COPY rows from the server, so no table is
     * ever held whole. {@link #dataDigest()} is a SHA-256 of the table data alone (not of the manifest), to tell
     * whether anything changed since the last snapshot.
     */
    static final class Writer extends InputStream {
        private final CopyManager copy;
        private final Manifest manifest;
        private final MessageDigest digest;
        private final Map<String, Long> rows = new LinkedHashMap<>();
        private byte[] pending;
        private int position;
        private int table = -1;
        private CopyOut current;
        private boolean trailerSent;

        Writer(Connection connection, Manifest manifest) throws SQLException {
            this.copy = connection.unwrap(PGConnection.class).getCopyAPI();
            this.manifest = requireNonNull(manifest, "manifest is null");
            try {
                this.digest = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            byte[] json = manifest.toJson();
            this.pending = ByteBuffer.allocate(MAGIC.length + 4 + json.length).put(MAGIC).putInt(json.length).put(json).array();
        }

        String dataDigest() {
            return HexFormat.of().formatHex(digest.digest());
        }

        Map<String, Long> rows() {
            return rows;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            while (pending == null || position == pending.length) {
                if (!advance()) {
                    return -1;
                }
            }
            int n = Math.min(length, pending.length - position);
            System.arraycopy(pending, position, buffer, offset, n);
            position += n;
            return n;
        }

        private boolean advance() throws IOException {
            position = 0;
            try {
                if (current != null) {
                    byte[] row = current.readFromCopy();
                    if (row != null) {
                        digest.update(row);
                        pending = ByteBuffer.allocate(4 + row.length).putInt(row.length).put(row).array();
                        return true;
                    }
                    rows.put(manifest.tables().get(table).name(), current.getHandledRowCount());
                    current = null;
                    pending = new byte[4]; // the empty frame that ends the table
                    return true;
                }
                if (table + 1 < manifest.tables().size()) {
                    table++;
                    Table next = manifest.tables().get(table);
                    digest.update(next.name().getBytes(StandardCharsets.UTF_8));
                    current = copy.copyOut("COPY " + Sql.identifier(next.name()) + " (" + next.copyColumns()
                            + ") TO STDOUT (FORMAT binary)");
                    pending = new byte[0];
                    return true;
                }
                if (!trailerSent) {
                    trailerSent = true;
                    byte[] json = write(Map.of("rows", rows));
                    pending = ByteBuffer.allocate(4 + json.length).putInt(json.length).put(json).array();
                    return true;
                }
                return false;
            } catch (SQLException e) {
                throw new IOException("cannot read table data: " + e.getMessage(), e);
            }
        }

        @Override
        public void close() throws IOException {
            if (current != null && current.isActive()) {
                try {
                    current.cancelCopy();
                } catch (SQLException e) {
                    throw new IOException(e);
                }
            }
        }
    }

    /** Reads a snapshot body: the manifest, then each table's COPY data in order, then the trailer. */
    static final class Reader {
        private final DataInputStream in;
        private final Manifest manifest;
        private int table = -1;

        Reader(InputStream in, String what) throws IOException {
            this.in = new DataInputStream(in);
            byte[] magic = new byte[MAGIC.length];
            try {
                this.in.readFully(magic);
            } catch (EOFException e) {
                throw new IOException(what + " is empty or truncated");
            }
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new IOException(what + " is not a Silo logical snapshot (unknown format)");
            }
            this.manifest = Manifest.parse(frame());
        }

        Manifest manifest() {
            return manifest;
        }

        private byte[] frame() throws IOException {
            int length = in.readInt();
            if (length < 0 || length > MAX_FRAME) {
                throw new IOException("corrupt snapshot: a frame of " + length + " bytes");
            }
            return in.readNBytes(length);
        }

        /** The next table, with its COPY data as a stream (read it to its end before asking for the next). */
        boolean next() {
            table++;
            return table < manifest.tables().size();
        }

        Table table() {
            return manifest.tables().get(table);
        }

        /** The current table's rows, one COPY data message at a time; null after the last. */
        byte[] nextRow() throws IOException {
            byte[] row = frame();
            return row.length == 0 ? null : row;
        }

        /** Copies the current table's data into {@code target} (same columns); returns the rows written. */
        long copyInto(Connection target) throws SQLException, IOException {
            Table current = table();
            CopyIn copyIn = target.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + Sql.identifier(current.name())
                    + " (" + current.copyColumns() + ") FROM STDIN (FORMAT binary)");
            try {
                for (byte[] row = nextRow(); row != null; row = nextRow()) {
                    copyIn.writeToCopy(row, 0, row.length);
                }
                return copyIn.endCopy();
            } finally {
                if (copyIn.isActive()) {
                    copyIn.cancelCopy();
                }
            }
        }

        /** Skips the current table's data. */
        void skip() throws IOException {
            while (nextRow() != null) {
                // skipped
            }
        }

        /** The rows per table the writer counted; reading it proves the snapshot is complete. */
        Map<String, Long> trailer() throws IOException {
            JsonNode root = Json.MAPPER.readTree(frame());
            Map<String, Long> rows = new LinkedHashMap<>();
            root.path("rows").properties().forEach(entry -> rows.put(entry.getKey(), entry.getValue().asLong()));
            return rows;
        }
    }

    /** Sets every sequence owned by a column of {@code table} (serial, identity) past the greatest value restored. */
    static void resetSequences(Connection connection, Table table) throws SQLException {
        for (String column : table.columns()) {
            try (PreparedStatement select = connection.prepareStatement("SELECT pg_get_serial_sequence(?, ?)")) {
                select.setString(1, "public." + Sql.identifier(table.name()));
                select.setString(2, column);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next() || rs.getString(1) == null) {
                        continue;
                    }
                    String sequence = rs.getString(1);
                    try (PreparedStatement set = connection.prepareStatement("SELECT setval(?, coalesce((SELECT max("
                            + Sql.identifier(column) + ") FROM " + Sql.identifier(table.name()) + "), 0) + 1, false)")) {
                        set.setString(1, sequence);
                        set.execute();
                    }
                }
            }
        }
    }
}
