package dev.silo.backup.logical;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.UUID;

/**
 * Decodes PostgreSQL's binary COPY format (the "Binary Format" section of the COPY reference page) for the few column
 * types the download reads: {@code text}, {@code uuid}, {@code bigint}, {@code jsonb}, {@code timestamptz}.
 */
final class CopyRows {
    private static final byte[] SIGNATURE = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0};
    /** timestamptz counts microseconds from 2000-01-01 00:00 UTC. */
    private static final long POSTGRES_EPOCH_SECONDS = 946_684_800L;

    private final DataInputStream in;

    /** Over the current table of {@code reader}: its COPY data messages, joined. */
    CopyRows(Snapshot.Reader reader) throws IOException {
        this.in = new DataInputStream(new SequenceInputStream(new java.util.Enumeration<InputStream>() {
            private byte[] next = reader.nextRow();

            @Override
            public boolean hasMoreElements() {
                return next != null;
            }

            @Override
            public InputStream nextElement() {
                InputStream current = new ByteArrayInputStream(next);
                try {
                    next = reader.nextRow();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return current;
            }
        }));
        byte[] signature = new byte[SIGNATURE.length];
        in.readFully(signature);
        if (!Arrays.equals(signature, SIGNATURE)) {
            throw new IOException("corrupt snapshot: table data is not binary COPY");
        }
        in.readInt(); // flags
        in.skipNBytes(in.readInt()); // header extension
    }

    /** The next row's fields (null for SQL NULL), or null after the last row. */
    byte[][] next() throws IOException {
        short count;
        try {
            count = in.readShort();
        } catch (EOFException e) {
            throw new IOException("corrupt snapshot: table data ends without its trailer");
        }
        if (count == -1) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return null;
        }
        byte[][] fields = new byte[count][];
        for (int i = 0; i < count; i++) {
            int length = in.readInt();
            fields[i] = length < 0 ? null : in.readNBytes(length);
        }
        return fields;
    }

    static String text(byte[] field) {
        return field == null ? null : new String(field, StandardCharsets.UTF_8);
    }

    static String jsonb(byte[] field) {
        // jsonb's binary form: a version byte (1), then the JSON text
        return field == null ? null : new String(field, 1, field.length - 1, StandardCharsets.UTF_8);
    }

    static UUID uuid(byte[] field) {
        if (field == null) {
            return null;
        }
        ByteBuffer buffer = ByteBuffer.wrap(field);
        return new UUID(buffer.getLong(), buffer.getLong());
    }

    static long int8(byte[] field) {
        return ByteBuffer.wrap(field).getLong();
    }

    static Instant timestamptz(byte[] field) {
        if (field == null) {
            return null;
        }
        long micros = ByteBuffer.wrap(field).getLong();
        return Instant.ofEpochSecond(POSTGRES_EPOCH_SECONDS + Math.floorDiv(micros, 1_000_000L),
                Math.floorMod(micros, 1_000_000L) * 1000L);
    }
}
