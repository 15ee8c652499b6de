package dev.silo.platform.log.tail;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The ring and the subscribers' queues of the live tail, without a server. */
class LogTailTest {
    private static void log(LogTail tail, int count, String stream) {
        for (int i = 0; i < count; i++) {
            int n = i;
            tail.append(seq -> new TailLine(seq, 0, "INFO", stream, "test", "line " + n, null, null, null, null, null));
        }
    }

    @Test
    void theRingKeepsTheLastLinesOnly() {
        LogTail tail = new LogTail(10);
        log(tail, 25, "app");
        List<TailLine> buffered = tail.buffered(line -> true);
        assertThat(buffered).hasSize(10);
        assertThat(buffered.getFirst().message()).isEqualTo("line 15");
        assertThat(buffered.getLast().message()).isEqualTo("line 24");
        assertThat(buffered.getLast().seq()).isEqualTo(24);
    }

    @Test
    void aSubscriberGetsTheBacklogThenNewLinesWithoutAGap() throws Exception {
        LogTail tail = new LogTail(10);
        log(tail, 3, "app");
        try (LogTail.Subscription subscription = tail.subscribe(line -> line.stream().equals("app"))) {
            log(tail, 1, "api");
            log(tail, 2, "app");
            assertThat(subscription.backlog()).extracting(TailLine::seq).containsExactly(0L, 1L, 2L);
            assertThat(subscription.next(Duration.ofSeconds(1)).orElseThrow().seq()).isEqualTo(4);
            assertThat(subscription.next(Duration.ofSeconds(1)).orElseThrow().seq()).isEqualTo(5);
            assertThat(subscription.next(Duration.ofMillis(10))).isEmpty();
        }
        assertThat(tail.subscribers()).isZero();
    }

    @Test
    void aSubscriberThatDoesNotReadLosesLinesAndIsToldHowManyWhileLoggingGoesOn() throws Exception {
        LogTail tail = new LogTail(10);
        try (LogTail.Subscription slow = tail.subscribe(line -> true);
             LogTail.Subscription other = tail.subscribe(line -> true)) {
            // Never read by "slow": logging must not wait for it.
            log(tail, LogTail.SUBSCRIBER_QUEUE + 500, "app");
            assertThat(slow.takeDropped()).isEqualTo(500);
            assertThat(slow.takeDropped()).isZero();
            assertThat(other.takeDropped()).isEqualTo(500);
            assertThat(slow.next(Duration.ofSeconds(1)).orElseThrow().message()).isEqualTo("line 0");
        }
    }

    @Test
    void closingWakesAWaitingReader() throws Exception {
        LogTail tail = new LogTail(10);
        LogTail.Subscription subscription = tail.subscribe(line -> true);
        Thread closer = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            subscription.close();
        });
        // would wait ten minutes if close did not wake it
        assertThat(subscription.next(Duration.ofMinutes(10))).isEmpty();
        closer.join();
    }
}
