package dev.silo.records;

import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * The conditional-request outcomes the shared problem hierarchy has no class for yet: 412
 * {@code precondition-failed}, 428 {@code precondition-required} and 415 {@code unsupported-media-type}.
 * {@link RecordRoutes} renders it as an RFC 9457 problem like every other; once the platform hierarchy gains
 * these statuses this class can go.
 */
final class RecordProblem extends RuntimeException {
    private final int status;
    private final String type;
    private final String title;
    private final Map<String, Object> extensions;

    private RecordProblem(int status, String type, String title, String detail, Map<String, Object> extensions) {
        super(requireNonNull(detail, "detail is null"), null, false, false);
        this.status = status;
        this.type = requireNonNull(type, "type is null");
        this.title = requireNonNull(title, "title is null");
        this.extensions = Map.copyOf(extensions);
    }

    static RecordProblem preconditionFailed(String detail, Map<String, Object> extensions) {
        return new RecordProblem(412, "precondition-failed", "Precondition failed", detail, extensions);
    }

    static RecordProblem preconditionRequired(String detail) {
        return new RecordProblem(428, "precondition-required", "Precondition required", detail, Map.of());
    }

    static RecordProblem unsupportedMediaType(String detail) {
        return new RecordProblem(415, "unsupported-media-type", "Unsupported media type", detail, Map.of());
    }

    int status() {
        return status;
    }

    String type() {
        return type;
    }

    String title() {
        return title;
    }

    Map<String, Object> extensions() {
        return extensions;
    }
}
