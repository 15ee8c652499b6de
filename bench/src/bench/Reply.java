package bench;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;

record Reply(int status, String body) {
    JsonNode json() {
        try {
            return Bench.JSON.readTree(body);
        } catch (IOException e) {
            throw new Fatal("expected JSON, got: " + Format.abbreviate(body));
        }
    }

    boolean success() {
        return status >= 200 && status < 300;
    }

    /** No such route (yet): 404 or 405 from the router. */
    boolean routeMissing() {
        return status == 404 || status == 405;
    }
}
