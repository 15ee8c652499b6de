package dev.silo.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.silo.platform.http.Json;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Text tables and key-value blocks for people, JSON for scripts. */
final class Output {
    private Output() {}

    static void json(PrintStream out, Object value) {
        try {
            out.println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static void keyValues(PrintStream out, Map<String, ?> values) {
        int width = values.keySet().stream().mapToInt(String::length).max().orElse(0);
        values.forEach((key, value) -> out.println(String.format("%-" + width + "s  %s", key, value == null ? "-" : value)));
    }

    static void table(PrintStream out, List<String> columns, List<Map<String, ?>> rows) {
        int[] widths = new int[columns.size()];
        List<List<String>> cells = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            widths[i] = columns.get(i).length();
        }
        for (Map<String, ?> row : rows) {
            List<String> line = new ArrayList<>();
            for (int i = 0; i < columns.size(); i++) {
                Object value = row.get(columns.get(i));
                String text = value == null ? "-" : value.toString();
                widths[i] = Math.max(widths[i], text.length());
                line.add(text);
            }
            cells.add(line);
        }
        StringBuilder header = new StringBuilder();
        for (int i = 0; i < columns.size(); i++) {
            header.append(String.format("%-" + (widths[i] + 2) + "s", columns.get(i).toUpperCase()));
        }
        out.println(header.toString().stripTrailing());
        for (List<String> line : cells) {
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < line.size(); i++) {
                text.append(String.format("%-" + (widths[i] + 2) + "s", line.get(i)));
            }
            out.println(text.toString().stripTrailing());
        }
    }
}
