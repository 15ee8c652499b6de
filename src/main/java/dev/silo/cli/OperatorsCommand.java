package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import dev.silo.operator.OperatorService;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "operators", mixinStandardHelpOptions = true,
        description = "Operator API keys (Silo's staff and automation authenticate with keys, never passwords).",
        subcommands = {OperatorsCommand.Create.class, OperatorsCommand.ListOperators.class, OperatorsCommand.Revoke.class,
                OperatorsCommand.SetEmail.class})
public final class OperatorsCommand {
    static Map<String, String> env;
    static PrintStream out;

    public OperatorsCommand(Map<String, String> env, PrintStream out) {
        OperatorsCommand.env = env;
        OperatorsCommand.out = out;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an operator and print its key, this once.")
    static final class Create implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @picocli.CommandLine.Option(names = "--email", paramLabel = "EMAIL",
                description = "the operator's e-mail (needed to request staff access; see silo operators set-email)")
        String email;

        @Override
        public Integer call() {
            String canonical = email == null ? null : dev.silo.user.UserService.normalizeEmail(email);
            try (SiloCore silo = core.open(env)) {
                OperatorService.CreatedOperator created = silo.operators().create(name, Actor.cli());
                if (canonical != null) {
                    silo.operators().setEmail(name, canonical, Actor.cli());
                }
                if (core.json) {
                    Output.json(out, Map.of("name", name, "key", created.key()));
                } else {
                    out.println("Operator '" + name + "' created. Its key is shown this once; store it in a secret manager:");
                    out.println();
                    out.println("  " + created.key());
                    out.println();
                    out.println("Use it as: Authorization: Bearer <key>");
                }
                return 0;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List operators (never their keys).")
    static final class ListOperators implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                List<Map<String, ?>> rows = silo.operators().list().stream().<Map<String, ?>>map(o -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("name", o.name());
                    row.put("key", o.keyHint());
                    row.put("created_at", o.createdAt());
                    row.put("last_used_at", o.lastUsedAt());
                    row.put("revoked_at", o.revokedAt());
                    return row;
                }).toList();
                if (core.json) {
                    Output.json(out, rows);
                } else {
                    Output.table(out, List.of("name", "key", "created_at", "last_used_at", "revoked_at"), rows);
                }
                return 0;
            }
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke an operator's key at once.")
    static final class Revoke implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                silo.operators().revoke(name, Actor.cli());
                if (core.json) {
                    Output.json(out, Map.of("name", name, "revoked", true));
                } else {
                    out.println("operator '" + name + "' revoked");
                }
                return 0;
            }
        }
    }

    @Command(name = "set-email", mixinStandardHelpOptions = true,
            description = "Record the e-mail the operator would have as a tenant user: a staff-access request of theirs "
                    + "is never approved by a tenant account with that address. Needed before 'silo access request'.")
    static final class SetEmail implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "EMAIL")
        String email;

        @Override
        public Integer call() {
            String canonical = dev.silo.user.UserService.normalizeEmail(email);
            try (SiloCore silo = core.open(env)) {
                silo.operators().setEmail(name, canonical, Actor.cli());
                if (core.json) {
                    Output.json(out, Map.of("name", name, "email", canonical));
                } else {
                    out.println("Operator '" + name + "' has the e-mail " + canonical);
                }
                return 0;
            }
        }
    }
}
