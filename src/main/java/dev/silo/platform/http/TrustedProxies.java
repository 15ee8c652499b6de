package dev.silo.platform.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Who the client is when Silo runs behind a proxy ({@code SILO_TRUSTED_PROXIES}, issue 14.1). Only a TCP peer that
 * is a trusted proxy may say who the client is, in {@code X-Forwarded-For} (or RFC 7239 {@code Forwarded}) and
 * {@code X-Forwarded-Proto}; from anyone else those headers are ignored, so a client cannot pick the address it is
 * throttled and audited by.
 *
 * <p>The client is the rightmost address of the forwarding chain that is not itself a trusted proxy: every proxy
 * appends the address it received the request from, so entries left of the first untrusted one from the right are
 * whatever the client chose to send.
 *
 * <p>Values: empty (the default: no proxy, the peer is the client); a comma-separated list of addresses and CIDR
 * blocks ({@code 10.0.0.0/8, 192.168.1.7, fd00::/8}); or {@code heroku}: on Heroku every connection comes from its
 * router (dynos cannot be reached otherwise) and the router appends the client's address as the last
 * {@code X-Forwarded-For} entry, so every peer is trusted and exactly that last entry is the client.
 */
public final class TrustedProxies {
    public static final String HEROKU = "heroku";
    private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]{2,45}");

    private final List<Block> blocks;
    private final boolean everyPeer;
    private final String description;

    private TrustedProxies(List<Block> blocks, boolean everyPeer, String description) {
        this.blocks = List.copyOf(blocks);
        this.everyPeer = everyPeer;
        this.description = description;
    }

    /** No proxy: the TCP peer is the client, forwarding headers are ignored. */
    public static TrustedProxies none() {
        return new TrustedProxies(List.of(), false, "none");
    }

    /**
     * Parses the setting.
     *
     * @throws IllegalArgumentException naming the entry that is neither an address nor a CIDR block
     */
    public static TrustedProxies parse(String value) {
        if (value == null || value.isBlank()) {
            return none();
        }
        String trimmed = value.strip();
        if (trimmed.equalsIgnoreCase(HEROKU)) {
            return new TrustedProxies(List.of(), true, HEROKU);
        }
        List<Block> blocks = new ArrayList<>();
        for (String entry : trimmed.split(",")) {
            String item = entry.strip();
            if (item.isEmpty()) {
                continue;
            }
            blocks.add(Block.parse(item));
        }
        return new TrustedProxies(blocks, false, String.join(", ", blocks.stream().map(Block::toString).toList()));
    }

    /** Whether {@code peer} may say who the client is. */
    public boolean trusts(InetAddress peer) {
        if (peer == null) {
            return false;
        }
        if (everyPeer) {
            return true;
        }
        for (Block block : blocks) {
            if (block.contains(peer)) {
                return true;
            }
        }
        return false;
    }

    /** Whether any proxy is configured. */
    public boolean any() {
        return everyPeer || !blocks.isEmpty();
    }

    /**
     * The client of a request that arrived from {@code peer} carrying these headers (every value of each, in
     * order). Headers that cannot be parsed leave the last address that could be trusted as the client.
     */
    public Client resolve(InetAddress peer, List<String> forwardedFor, List<String> forwarded, List<String> forwardedProto) {
        requireNonNull(peer, "peer is null");
        if (!trusts(peer)) {
            return new Client(peer, Optional.empty());
        }
        List<String> chain = new ArrayList<>();
        if (!forwarded.isEmpty()) {
            for (String value : forwarded) {
                chain.addAll(forwardedFor(value));
            }
        } else {
            for (String value : forwardedFor) {
                for (String entry : value.split(",")) {
                    chain.add(entry.strip());
                }
            }
        }
        InetAddress client = peer;
        for (int i = chain.size() - 1; i >= 0; i--) {
            Optional<InetAddress> address = literal(chain.get(i));
            if (address.isEmpty()) {
                break; // an unparsable hop: trust nothing left of it
            }
            client = address.get();
            if (everyPeer || !trusts(client)) {
                break; // Heroku: its router appended exactly one entry; otherwise the first untrusted hop
            }
        }
        Optional<String> scheme = Optional.empty();
        if (!forwardedProto.isEmpty()) {
            String[] protos = forwardedProto.getLast().split(",");
            String last = protos[protos.length - 1].strip().toLowerCase(Locale.ROOT);
            if (last.equals("https") || last.equals("http")) {
                scheme = Optional.of(last);
            }
        }
        return new Client(client, scheme);
    }

    /** The client's address and, when a trusted proxy said so, the scheme the client used. */
    public record Client(InetAddress address, Optional<String> scheme) {}

    /** The {@code for=} values of one RFC 7239 {@code Forwarded} header value, in order. */
    private static List<String> forwardedFor(String value) {
        List<String> hops = new ArrayList<>();
        for (String element : value.split(",")) {
            String found = "";
            for (String pair : element.split(";")) {
                int equals = pair.indexOf('=');
                if (equals > 0 && pair.substring(0, equals).strip().equalsIgnoreCase("for")) {
                    found = pair.substring(equals + 1).strip();
                }
            }
            hops.add(found);
        }
        return hops;
    }

    /**
     * An IP literal, with an optional port ({@code 1.2.3.4:5678}, {@code [::1]:80}) and quotes stripped; never a
     * name (a header value must not make Silo query DNS). Empty for anything else ({@code unknown}, obfuscated ids).
     */
    static Optional<InetAddress> literal(String raw) {
        String text = raw.strip();
        if (text.length() >= 2 && text.startsWith("\"") && text.endsWith("\"")) {
            text = text.substring(1, text.length() - 1);
        }
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                return Optional.empty();
            }
            text = text.substring(1, close);
        } else if (text.indexOf(':') > 0 && text.indexOf(':') == text.lastIndexOf(':') && text.contains(".")) {
            text = text.substring(0, text.indexOf(':')); // IPv4 with a port
        }
        boolean v4 = IPV4.matcher(text).matches();
        boolean v6 = !v4 && text.contains(":") && IPV6.matcher(text).matches();
        if (!v4 && !v6) {
            return Optional.empty();
        }
        try {
            return Optional.of(InetAddress.getByName(text)); // a literal: no lookup
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        return description;
    }

    /** One address or CIDR block. */
    private record Block(byte[] network, int prefix, String text) {
        static Block parse(String item) {
            int slash = item.indexOf('/');
            String address = slash < 0 ? item : item.substring(0, slash);
            InetAddress parsed = literal(address).orElseThrow(() -> new IllegalArgumentException(
                    "'" + item + "' is not an IP address or CIDR block (e.g. 10.0.0.0/8, 192.168.1.7, fd00::/8, or 'heroku')"));
            byte[] bytes = parsed.getAddress();
            int prefix = bytes.length * 8;
            if (slash >= 0) {
                try {
                    prefix = Integer.parseInt(item.substring(slash + 1).strip());
                } catch (NumberFormatException e) {
                    prefix = -1;
                }
                if (prefix < 0 || prefix > bytes.length * 8) {
                    throw new IllegalArgumentException("'" + item + "' has an invalid prefix length (0 to " + bytes.length * 8 + ")");
                }
            }
            return new Block(bytes, prefix, item);
        }

        boolean contains(InetAddress address) {
            byte[] candidate = address.getAddress();
            if (candidate.length != network.length) {
                return false;
            }
            int full = prefix / 8;
            for (int i = 0; i < full; i++) {
                if (candidate[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefix % 8;
            if (rest == 0) {
                return true;
            }
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return (candidate[full] & mask) == (network[full] & mask);
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
