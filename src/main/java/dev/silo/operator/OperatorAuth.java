package dev.silo.operator;

import dev.silo.audit.Actor;
import dev.silo.platform.http.HttpServer;
import dev.silo.platform.http.RequestIds;
import dev.silo.platform.problem.Unauthorized;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;

import static java.util.Objects.requireNonNull;

/** The guard of every {@code /admin} route: a valid, unrevoked operator key as a Bearer token (claim C20). */
public final class OperatorAuth {
    private static final String CHALLENGE = "Bearer realm=\"silo-admin\"";
    private final OperatorService operators;

    public OperatorAuth(OperatorService operators) {
        this.operators = requireNonNull(operators, "operators is null");
    }

    /** The operator making the request, as an audit actor; 401 problem otherwise. */
    public Actor require(ServerRequest request) {
        String header = request.headers().first(HeaderNames.AUTHORIZATION).orElse(null);
        if (header == null) {
            throw new Unauthorized("unauthorized", "an operator key is required: Authorization: Bearer silo_op_...", CHALLENGE);
        }
        if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new Unauthorized("unauthorized", "the Authorization header must be 'Bearer <operator key>'", CHALLENGE);
        }
        OperatorService.Operator operator = operators.authenticate(header.substring(7).strip())
                .orElseThrow(() -> new Unauthorized("unauthorized", "the operator key is invalid or revoked", CHALLENGE));
        return Actor.operator(operator.name(), request.context().get(RequestIds.MDC_KEY, String.class).orElse(null),
                HttpServer.clientAddress(request).getHostAddress());
    }
}
