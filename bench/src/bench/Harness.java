package bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

import static java.util.Objects.requireNonNull;

/**
 * What every row family shares: the options, the main Silo, the rows and errors collected so far, and how a
 * measurement is attempted (an error is recorded, the run goes on) and turned into a row.
 */
final class Harness {
    private final Options options;
    private final SiloProcess silo;
    private final List<Row> rows = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();

    Harness(Options options, SiloProcess silo) {
        this.options = requireNonNull(options, "options is null");
        this.silo = requireNonNull(silo, "silo is null");
    }

    Options options() {
        return options;
    }

    SiloProcess silo() {
        return silo;
    }

    List<Row> rows() {
        return rows;
    }

    List<String> errors() {
        return errors;
    }

    void add(Row row) {
        rows.add(row);
    }

    void progress(String message) {
        System.err.println("bench: " + message);
    }

    /** Runs a Silo-side measurement when all its features are there; "not available yet" otherwise. */
    Measured siloRow(String label, Features features, List<Feature> needs, Callable<Measured> work) {
        return unavailable(features, needs).orElseGet(() -> attempt(label, work));
    }

    /** Why rows that need {@code needs} cannot run ("not available yet", or a failed probe); empty when they can. */
    Optional<Measured> unavailable(Features features, List<Feature> needs) {
        for (Feature feature : needs) {
            if (features.failed(feature)) {
                return Optional.of(Measured.error("the probe of " + feature.description + " failed"));
            }
            Optional<String> missing = features.missing(feature);
            if (missing.isPresent()) {
                return Optional.of(Measured.notYet(missing.get()));
            }
        }
        return Optional.empty();
    }

    Measured attempt(String label, Callable<Measured> work) {
        progress("measuring " + label);
        try {
            return work.call();
        } catch (NotYet e) {
            return Measured.notYet(e.getMessage());
        } catch (Fatal e) {
            errors.add(label + ": " + e.getMessage() + siloState());
            return Measured.error(e.getMessage());
        } catch (Exception e) {
            errors.add(label + ": " + e + siloState());
            return Measured.error(e.toString());
        }
    }

    private String siloState() {
        try {
            silo.checkAlive();
            return "";
        } catch (Fatal e) {
            return " (" + e.getMessage() + ")";
        }
    }

    /**
     * A table row: ratio = Silo's rate / the raw rate. Latency figures carry 1 / p50 as their rate, so for them
     * it is raw p50 / Silo p50. Either way 1.0 means "at the raw limit".
     */
    Row row(String id, String name, Measured silo, Measured raw) {
        String ratio = "—";
        if (silo.ok() && raw.ok()) {
            ratio = String.format(Locale.ROOT, "%.2f", silo.rate() / raw.rate());
        }
        List<String> notes = new ArrayList<>();
        if (silo.notes() != null && !silo.notes().isEmpty()) {
            notes.add("Silo: " + silo.notes());
        }
        if (raw.notes() != null && !raw.notes().isEmpty()) {
            notes.add("raw: " + raw.notes());
        }
        return new Row(id, name, silo.cell(), raw.cell(), ratio, String.join("; ", notes));
    }

    /** A measurement on another Silo started for one row, with its API and probed features. */
    interface OnOtherSilo {
        Measured measure(SiloProcess other, Api api, Features features) throws Exception;
    }

    /**
     * Starts another Silo with {@code env} (its own data directory), probes its features, runs {@code work} with the
     * CPU notes counting that Silo, stops it. {@code what} names it in an error.
     */
    Measured onOtherSilo(String name, Map<String, String> env, String what, OnOtherSilo work) {
        SiloProcess other = new SiloProcess(options, name, env);
        try {
            other.start();
            Cpu.init(other); // the CPU notes of this row are the other Silo's
            Api otherApi = new Api(other.baseUri());
            Features otherFeatures = Features.probe(otherApi, other, options, this::progress, errors);
            return work.measure(other, otherApi, otherFeatures);
        } catch (Exception e) {
            return Measured.error("the Silo with " + what + ": " + e.getMessage());
        } finally {
            other.stop();
            Cpu.init(silo);
        }
    }
}
