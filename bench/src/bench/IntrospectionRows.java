package bench;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Row 17 (issue 19.4): token introspection for a tenant's other services ({@code POST /t/{tenant}/auth/introspect},
 * RFC 7662, authenticated by a {@code silo_sk_} service credential, the token form-encoded) against
 * {@code GET /t/{tenant}/me} with the same token, on the main Silo, measured in alternating windows (me, introspect,
 * introspect, me, ...) so that what the rest of the machine does lands on both sides alike. Goal ≥ 0.8.
 */
final class IntrospectionRows {
    private static final int WINDOWS_PER_SIDE = 4;

    private final Harness harness;
    private final Options options;

    IntrospectionRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure(Api api, Features features) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.ME);
        Measured[] me = {Measured.error("not measured")};
        Measured introspect = harness.siloRow("POST /t/{tenant}/auth/introspect and GET /t/{tenant}/me in "
                + 2 * WINDOWS_PER_SIDE + " alternating windows", features, needs, () -> {
            BenchTenant tenant = features.tenant();
            String token = features.login(tenant.slug(), tenant.email());
            JsonNode created = api.expect("POST", "/t/" + tenant.slug() + "/service-credentials",
                    Map.of("name", "bench row 17"), token);
            String credential = created.get("credential").asText();
            String form = "token=" + URLEncoder.encode(token, StandardCharsets.UTF_8);
            byte[] introspectRequest = Load.form(api.base(), "/t/" + tenant.slug() + "/auth/introspect", form, credential);
            byte[] meRequest = Load.get(api.base(), "/t/" + tenant.slug() + "/me", token);
            // An inactive answer is a 200 too: check once that the token is seen as active.
            Reply probe = api.callForm("/t/" + tenant.slug() + "/auth/introspect", form, credential);
            if (!probe.success() || !probe.body().contains("\"active\":true")) {
                throw new Fatal("introspection of a live token answered " + probe.status() + " " + probe.body());
            }
            Side meSide = new Side(api, meRequest);
            Side introspectSide = new Side(api, introspectRequest);
            meSide.window(options.warmup(), false);
            introspectSide.window(options.warmup(), false);
            Duration window = Duration.ofMillis(Math.max(1000, options.measure().toMillis() * 2 / WINDOWS_PER_SIDE));
            for (int w = 0; w < WINDOWS_PER_SIDE; w++) {
                Side first = w % 2 == 0 ? meSide : introspectSide;
                first.window(window, true);
                (first == meSide ? introspectSide : meSide).window(window, true);
            }
            me[0] = meSide.measured(window);
            return introspectSide.measured(window);
        });
        if (!introspect.ok()) {
            me[0] = introspect;
        }
        harness.add(harness.row("17", "token introspection (`POST /t/{tenant}/auth/introspect` with a service credential) "
                + "vs `GET /t/{tenant}/me` with the same token, alternating windows (goal ≥ 0.8)", introspect, me[0]));
    }

    /** One request kind: its windows' requests, seconds and latencies added up. */
    private final class Side {
        private final Api api;
        private final byte[] request;
        private final List<long[]> latencies = new ArrayList<>();
        private long requests;
        private double seconds;
        private String cpu = "";

        Side(Api api, byte[] request) {
            this.api = api;
            this.request = request;
        }

        void window(Duration length, boolean counted) throws Exception {
            Load.Result result = counted
                    ? Load.run(api.base(), options.connections(), Duration.ofMillis(200), length, (worker, i) -> request)
                    : Load.run(api.base(), options.connections(), length, Duration.ofMillis(200), (worker, i) -> request);
            if (result.errors() > 0 || counted) {
                result.measured("", "req/s", options.connections() + " connections"); // fails the row on errors
            }
            if (counted) {
                requests += result.requests();
                seconds += result.seconds();
                latencies.add(result.latencies().sorted());
                cpu = result.cpu();
            }
        }

        Measured measured(Duration window) {
            long[] all = latencies.stream().flatMapToLong(Arrays::stream).toArray();
            return Measured.throughput("", requests / seconds, "req/s", Latencies.of(all, all.length),
                    options.connections() + " connections, " + WINDOWS_PER_SIDE + " windows of "
                            + window.toMillis() / 1000.0 + " s; last window " + cpu);
        }
    }
}
