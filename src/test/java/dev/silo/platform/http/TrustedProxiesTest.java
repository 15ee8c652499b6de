package dev.silo.platform.http;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Who the client is behind proxies: only trusted peers may say, and only the untrusted end of the chain counts. */
class TrustedProxiesTest {
    private static InetAddress ip(String text) {
        return TrustedProxies.literal(text).orElseThrow();
    }

    private static String client(TrustedProxies proxies, String peer, String... forwardedFor) {
        return proxies.resolve(ip(peer), List.of(forwardedFor), List.of(), List.of()).address().getHostAddress();
    }

    @Test
    void withoutTrustedProxiesTheHeadersAreIgnored() {
        TrustedProxies none = TrustedProxies.parse("");
        assertThat(client(none, "198.51.100.1", "203.0.113.9")).isEqualTo("198.51.100.1");
        assertThat(none.resolve(ip("198.51.100.1"), List.of(), List.of(), List.of("https")).scheme()).isEmpty();
        assertThat(none.any()).isFalse();
    }

    @Test
    void anUntrustedPeerCannotSpoofItsAddress() {
        TrustedProxies proxies = TrustedProxies.parse("10.0.0.0/8");
        assertThat(client(proxies, "198.51.100.1", "203.0.113.9")).isEqualTo("198.51.100.1");
    }

    @Test
    void theClientIsTheRightmostUntrustedHop() {
        TrustedProxies proxies = TrustedProxies.parse("10.0.0.0/8, 192.168.1.7");
        // The client wrote "1.1.1.1" itself; 203.0.113.9 is what the first trusted proxy saw.
        assertThat(client(proxies, "10.1.2.3", "1.1.1.1, 203.0.113.9, 192.168.1.7")).isEqualTo("203.0.113.9");
        assertThat(client(proxies, "10.1.2.3", "1.1.1.1", "203.0.113.9")).as("two header lines form one list").isEqualTo("203.0.113.9");
        assertThat(client(proxies, "10.1.2.3", "10.9.9.9")).as("every hop trusted: the leftmost").isEqualTo("10.9.9.9");
        assertThat(client(proxies, "10.1.2.3")).as("no header: the peer").isEqualTo("10.1.2.3");
        assertThat(client(proxies, "10.1.2.3", "203.0.113.9:4711")).as("a port is dropped").isEqualTo("203.0.113.9");
    }

    @Test
    void aHopThatIsNotAnAddressStopsTheWalkAndNoNameIsEverLookedUp() {
        TrustedProxies proxies = TrustedProxies.parse("10.0.0.0/8");
        assertThat(client(proxies, "10.1.2.3", "203.0.113.9, localhost")).isEqualTo("10.1.2.3");
        assertThat(client(proxies, "10.1.2.3", "evil.example.com")).isEqualTo("10.1.2.3");
        assertThat(client(proxies, "10.1.2.3", "unknown")).isEqualTo("10.1.2.3");
        assertThat(client(proxies, "10.1.2.3", "' OR 1=1 --")).isEqualTo("10.1.2.3");
        assertThat(TrustedProxies.literal("1.2.3")).isEmpty();
        assertThat(TrustedProxies.literal("256.1.1.1")).isEmpty();
    }

    @Test
    void herokuTrustsItsRouterAndTakesExactlyTheEntryItAppended() {
        TrustedProxies heroku = TrustedProxies.parse("heroku");
        assertThat(client(heroku, "10.55.1.2", "1.1.1.1, 203.0.113.9")).isEqualTo("203.0.113.9");
        assertThat(client(heroku, "10.55.1.2", "10.0.0.5")).as("even a private client address").isEqualTo("10.0.0.5");
        assertThat(heroku.resolve(ip("10.55.1.2"), List.of("203.0.113.9"), List.of(), List.of("https")).scheme())
                .contains("https");
    }

    @Test
    void rfc7239ForwardedIsReadWhenPresent() {
        TrustedProxies proxies = TrustedProxies.parse("127.0.0.1");
        var resolved = proxies.resolve(ip("127.0.0.1"), List.of("9.9.9.9"),
                List.of("for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\""), List.of());
        assertThat(resolved.address()).isEqualTo(ip("2001:db8:cafe::17"));
    }

    @Test
    void ipv6BlocksAndPrefixBoundariesMatch() {
        TrustedProxies proxies = TrustedProxies.parse("fd00::/8, 172.16.0.0/12");
        assertThat(proxies.trusts(ip("fd12::1"))).isTrue();
        assertThat(proxies.trusts(ip("fe80::1"))).isFalse();
        assertThat(proxies.trusts(ip("172.31.255.255"))).isTrue();
        assertThat(proxies.trusts(ip("172.32.0.0"))).isFalse();
        assertThat(proxies.trusts(ip("::ffff:172.16.0.1"))).as("IPv4-mapped").isTrue();
    }

    @Test
    void aBadEntryIsRefusedNamingIt() {
        assertThatThrownBy(() -> TrustedProxies.parse("10.0.0.0/8, router.internal"))
                .hasMessageContaining("'router.internal' is not an IP address or CIDR block");
        assertThatThrownBy(() -> TrustedProxies.parse("10.0.0.0/33")).hasMessageContaining("invalid prefix length");
        assertThat(TrustedProxies.parse("HEROKU").toString()).isEqualTo("heroku");
        assertThat(Optional.of(TrustedProxies.parse("10.0.0.0/8").toString())).contains("10.0.0.0/8");
    }
}
