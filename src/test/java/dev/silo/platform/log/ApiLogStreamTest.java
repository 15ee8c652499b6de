package dev.silo.platform.log;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.OutputStreamAppender;
import dev.silo.app.Silo;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingLogs;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The {@code api} stream is written off the request path and drops (and counts) lines when its output is slower
 * than the traffic, while {@code app} and {@code system} stay synchronous (issue 15.2).
 */
class ApiLogStreamTest {
    private static final LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    private static Silo silo;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
    }

    private static DroppingAsyncAppender apiAppender() {
        Appender<ILoggingEvent> appender = context.getLogger("silo.api").getAppender("api");
        assertThat(appender).as("logback.xml routes silo.api through the appender named api").isInstanceOf(DroppingAsyncAppender.class);
        return (DroppingAsyncAppender) appender;
    }

    @Test
    void onlyTheApiStreamIsAsynchronous() {
        DroppingAsyncAppender api = apiAppender();
        assertThat(api.isStarted()).isTrue();
        assertThat(api.getQueueSize()).isEqualTo(8192);
        assertThat(context.getLogger("silo.api").isAdditive()).as("api lines must not also go to root's synchronous output").isFalse();
        // app (audit checkpoints, security events) and system: written by the caller through root's console output.
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        assertThat(root.getAppender("json")).isInstanceOf(OutputStreamAppender.class);
        for (String logger : List.of("dev.silo.audit.AuditCheckpointJob", "dev.silo.auth.LoginThrottle", "dev.silo.platform.db.Pools")) {
            for (Logger step = context.getLogger(logger); step != null; step = parentOf(step)) {
                step.iteratorForAppenders().forEachRemaining(appender ->
                        assertThat(appender).as(logger).isNotInstanceOf(DroppingAsyncAppender.class));
            }
        }
    }

    private static Logger parentOf(Logger logger) {
        String name = logger.getName();
        if (name.equals(Logger.ROOT_LOGGER_NAME)) {
            return null;
        }
        int dot = name.lastIndexOf('.');
        return context.getLogger(dot < 0 ? Logger.ROOT_LOGGER_NAME : name.substring(0, dot));
    }

    @Test
    void aBlockedLogOutputDropsAndCountsApiLinesWhileRequestsComplete() throws Exception {
        DroppingAsyncAppender api = apiAppender();
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger written = new AtomicInteger();
        AppenderBase<ILoggingEvent> stuck = new AppenderBase<>() {
            @Override
            protected void append(ILoggingEvent event) {
                // A log pipe nobody reads: the write blocks until the test lets it go (at most a minute).
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                written.incrementAndGet();
            }
        };
        stuck.setContext(context);
        stuck.setName("stuck");
        stuck.start();
        List<Appender<ILoggingEvent>> outputs = new ArrayList<>();
        api.iteratorForAppenders().forEachRemaining(outputs::add);
        int queueSize = 4;
        api.stop();
        try {
            outputs.forEach(api::detachAppender);
            api.addAppender(stuck);
            api.setQueueSize(queueSize);
            api.setReportSeconds(1);
            api.start();
            long droppedBefore = api.dropped();

            TestingHttp http = new TestingHttp(silo.baseUri());
            int requests = 40;
            for (int i = 0; i < requests; i++) {
                assertThat(http.get("/health/live").status()).isEqualTo(200);
            }
            // Our own lines alone: one may be in the stuck write, queueSize wait; every other one is dropped (the
            // line of a request is logged once its response has left, so the last one may trail the response).
            await().atMost(Duration.ofSeconds(20)).until(() -> api.dropped() - droppedBefore >= requests - queueSize - 1);
            assertThat(written).hasValue(0);

            release.countDown();
            await().atMost(Duration.ofSeconds(20)).until(() -> api.pending() == 0 && written.get() > 0);
            // The count is said on the system stream, which is synchronous and not itself dropped.
            await().atMost(Duration.ofSeconds(20)).until(() -> TestingLogs.lines().stream().anyMatch(line ->
                    line.contains("api log lines dropped in the last 1 s") && line.contains("\"stream\":\"system\"")));
        } finally {
            release.countDown();
            api.stop();
            api.detachAppender(stuck);
            stuck.stop();
            outputs.forEach(api::addAppender);
            api.setQueueSize(8192);
            api.setReportSeconds(60);
            api.start();
        }
    }

    @Test
    void apiLinesQueuedAtStopAreWritten() {
        DroppingAsyncAppender appender = new DroppingAsyncAppender();
        appender.setContext(context);
        appender.setName("flush-check");
        List<String> written = new java.util.concurrent.CopyOnWriteArrayList<>();
        AppenderBase<ILoggingEvent> slow = new AppenderBase<>() {
            @Override
            protected void append(ILoggingEvent event) {
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
                written.add(event.getFormattedMessage());
            }
        };
        slow.setContext(context);
        slow.start();
        appender.addAppender(slow);
        appender.start();
        Logger logger = context.getLogger("flush-check-" + System.nanoTime());
        logger.setAdditive(false);
        logger.addAppender(appender);
        for (int i = 0; i < 100; i++) {
            logger.info("line {}", i);
        }
        appender.stop();
        assertThat(written).hasSize(100).startsWith("line 0").endsWith("line 99");
        assertThat(appender.dropped()).isZero();
    }
}
