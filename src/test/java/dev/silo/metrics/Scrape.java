package dev.silo.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/** A scrape in the Prometheus text format, read the way Prometheus reads it: name, labels, value per line. */
record Scrape(String text) {
    private record Sample(String name, Map<String, String> labels, double value) {}

    /** The sum of every sample named {@code name} whose labels include {@code labels}; 0 when there is none. */
    double sum(String name, Map<String, String> labels) {
        double sum = 0;
        for (String line : text.lines().toList()) {
            Sample sample = parse(line);
            if (sample != null && sample.name().equals(name) && sample.labels().entrySet().containsAll(labels.entrySet())) {
                sum += sample.value();
            }
        }
        return sum;
    }

    /** Whether some sample is named {@code name} with labels including {@code labels}. */
    boolean has(String name, Map<String, String> labels) {
        return text.lines().map(Scrape::parse)
                .anyMatch(sample -> sample != null && sample.name().equals(name)
                        && sample.labels().entrySet().containsAll(labels.entrySet()));
    }

    /** The names of every label of every sample. */
    java.util.Set<String> labelNames() {
        java.util.Set<String> names = new java.util.TreeSet<>();
        text.lines().map(Scrape::parse).filter(java.util.Objects::nonNull).forEach(sample -> names.addAll(sample.labels().keySet()));
        return names;
    }

    private static Sample parse(String line) {
        if (line.isBlank() || line.startsWith("#")) {
            return null;
        }
        int i = 0;
        while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
            i++;
        }
        String name = line.substring(0, i);
        Map<String, String> labels = new LinkedHashMap<>();
        if (i < line.length() && line.charAt(i) == '{') {
            i++;
            while (line.charAt(i) != '}') {
                int equals = line.indexOf('=', i);
                String key = line.substring(i, equals);
                i = equals + 2; // past ="
                StringBuilder value = new StringBuilder();
                while (line.charAt(i) != '"') {
                    if (line.charAt(i) == '\\') {
                        i++;
                    }
                    value.append(line.charAt(i++));
                }
                labels.put(key, value.toString());
                i++; // past the closing quote
                if (line.charAt(i) == ',') {
                    i++;
                }
            }
            i++;
        }
        String rest = line.substring(i).strip();
        String number = rest.split(" ")[0];
        double value = switch (number) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(number);
        };
        return new Sample(name, labels, value);
    }
}
