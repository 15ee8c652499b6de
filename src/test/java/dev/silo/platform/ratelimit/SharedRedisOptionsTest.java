package dev.silo.platform.ratelimit;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The Redis client Silo builds (issue 15.1: TCP_NODELAY on every client socket). */
class SharedRedisOptionsTest {
    @Test
    void theRedisClientSetsTcpNoDelayAndRefusesCommandsWhileDisconnected() {
        // Whether or not a Redis answers there: the options are what the client was built with.
        try (SharedRedis redis = SharedRedis.open("redis://127.0.0.1:6379")) {
            assertThat(redis.clientOptions().getSocketOptions().isTcpNoDelay()).isTrue();
            assertThat(redis.clientOptions().getDisconnectedBehavior())
                    .isEqualTo(io.lettuce.core.ClientOptions.DisconnectedBehavior.REJECT_COMMANDS);
        }
    }
}
