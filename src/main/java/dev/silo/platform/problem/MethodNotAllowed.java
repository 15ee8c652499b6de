package dev.silo.platform.problem;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

public final class MethodNotAllowed extends Problem {
    private final String allow;

    public MethodNotAllowed(String method, String path, Set<String> allowed) {
        super(405, "method-not-allowed", "Method not allowed",
                method + " is not allowed on " + path + "; allowed: " + String.join(", ", new TreeSet<>(allowed)),
                Map.of());
        this.allow = String.join(", ", new TreeSet<>(allowed));
    }

    @Override
    public Map<String, String> headers() {
        return Map.of("Allow", allow);
    }
}
