package dev.silo.backup.logical;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

import static java.util.Objects.requireNonNull;

/**
 * Turns a push-style output filter (a deflater, an encrypting stream) into a stream that is read: each read pulls a
 * chunk of the source through the filter into a small buffer, so nothing is held whole and no second thread is
 * needed between the database and the store.
 */
final class PullPipeline extends InputStream {
    /** Builds the filter over a sink; closing the filter must finish it (write its last bytes into the sink). */
    @FunctionalInterface
    interface Filter {
        OutputStream over(OutputStream sink) throws IOException;
    }

    private final InputStream source;
    private final Buffer sink = new Buffer();
    private final OutputStream filter;
    private final byte[] chunk = new byte[64 * 1024];
    private byte[] pending = new byte[0];
    private int position;
    private boolean finished;

    PullPipeline(InputStream source, Filter filter) throws IOException {
        this.source = requireNonNull(source, "source is null");
        this.filter = filter.over(sink);
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
        while (position == pending.length) {
            if (finished) {
                return -1;
            }
            int n = source.read(chunk);
            if (n < 0) {
                filter.close();
                finished = true;
            } else {
                filter.write(chunk, 0, n);
            }
            pending = sink.drain();
            position = 0;
        }
        int n = Math.min(length, pending.length - position);
        System.arraycopy(pending, position, buffer, offset, n);
        position += n;
        return n;
    }

    @Override
    public void close() throws IOException {
        source.close();
    }

    private static final class Buffer extends ByteArrayOutputStream {
        byte[] drain() {
            byte[] bytes = toByteArray();
            reset();
            return bytes;
        }
    }
}
