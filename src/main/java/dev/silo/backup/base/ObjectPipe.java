package dev.silo.backup.base;

import dev.silo.backup.BackupStore;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Writes an object to the store as it is produced, never holding it whole: a producer (the tar writer) runs on its
 * own platform thread and hands 256 KiB chunks through a bounded queue to {@link BackupStore#put}, which compresses
 * and encrypts them on the calling thread. On two cores the reading of files and the encryption then overlap.
 */
final class ObjectPipe {
    private static final int CHUNK = 256 * 1024;
    private static final byte[] END = new byte[0];

    /** Produces the object's bytes. */
    interface Producer {
        void write(OutputStream out) throws IOException;
    }

    /** What was stored: plaintext size and SHA-256. */
    record Written(long size, String sha256) {}

    private ObjectPipe() {}

    static Written put(BackupStore store, String name, Producer producer) throws IOException {
        BlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(8);
        MessageDigest digest = sha256();
        long[] size = new long[1];
        IOException[] failure = new IOException[1];
        Thread thread = Thread.ofPlatform().daemon().name("silo-base-backup-producer").unstarted(() -> {
            try (OutputStream out = new DigestOutputStream(new ChunkOutputStream(queue, size), digest)) {
                producer.write(out);
            } catch (IOException e) {
                failure[0] = e;
            } catch (RuntimeException e) {
                failure[0] = new IOException(e.getMessage(), e);
            } finally {
                offerEnd(queue);
            }
        });
        QueueInputStream in = new QueueInputStream(queue);
        thread.start();
        try {
            store.put(name, in);
        } catch (IOException | RuntimeException e) {
            in.abandon();
            thread.interrupt();
            join(thread);
            if (failure[0] != null && !(failure[0] instanceof InterruptedIOException)) {
                throw failure[0];
            }
            throw e;
        }
        join(thread);
        if (failure[0] != null) {
            store.delete(name);
            throw failure[0];
        }
        return new Written(size[0], HexFormat.of().formatHex(digest.digest()));
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void offerEnd(BlockingQueue<byte[]> queue) {
        try {
            while (!queue.offer(END, 100, TimeUnit.MILLISECONDS)) {
                if (Thread.currentThread().isInterrupted()) {
                    queue.clear();
                }
            }
        } catch (InterruptedException e) {
            queue.clear();
            queue.offer(END);
        }
    }

    private static void join(Thread thread) {
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static final class ChunkOutputStream extends OutputStream {
        private final BlockingQueue<byte[]> queue;
        private final long[] size;
        private byte[] buffer = new byte[CHUNK];
        private int filled;

        ChunkOutputStream(BlockingQueue<byte[]> queue, long[] size) {
            this.queue = queue;
            this.size = size;
        }

        @Override
        public void write(int b) throws IOException {
            if (filled == buffer.length) {
                flushChunk();
            }
            buffer[filled++] = (byte) b;
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            while (length > 0) {
                if (filled == buffer.length) {
                    flushChunk();
                }
                int n = Math.min(length, buffer.length - filled);
                System.arraycopy(bytes, offset, buffer, filled, n);
                filled += n;
                offset += n;
                length -= n;
            }
        }

        private void flushChunk() throws IOException {
            if (filled == 0) {
                return;
            }
            byte[] chunk = filled == buffer.length ? buffer : java.util.Arrays.copyOf(buffer, filled);
            try {
                queue.put(chunk);
            } catch (InterruptedException e) {
                throw new InterruptedIOException("the store stopped reading");
            }
            size[0] += filled;
            buffer = new byte[CHUNK];
            filled = 0;
        }

        @Override
        public void close() throws IOException {
            flushChunk();
        }
    }

    private static final class QueueInputStream extends InputStream {
        private final BlockingQueue<byte[]> queue;
        private byte[] current = new byte[0];
        private int position;
        private boolean ended;
        private volatile boolean abandoned;

        QueueInputStream(BlockingQueue<byte[]> queue) {
            this.queue = queue;
        }

        void abandon() {
            abandoned = true;
            queue.clear();
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            while (position == current.length) {
                if (ended || abandoned) {
                    return -1;
                }
                try {
                    current = queue.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while reading the backup object");
                }
                position = 0;
                if (current == END) {
                    ended = true;
                    return -1;
                }
            }
            int n = Math.min(length, current.length - position);
            System.arraycopy(current, position, bytes, offset, n);
            position += n;
            return n;
        }
    }
}
