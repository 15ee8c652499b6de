package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantStatus;
import dev.silo.platform.problem.Conflict;
import dev.silo.user.User;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.Console;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "users", mixinStandardHelpOptions = true, description = "Users of a tenant (most user administration is the tenant admins' API).",
        subcommands = {UsersCommand.Create.class})
public final class UsersCommand {
    static Map<String, String> env;
    static PrintStream out;

    public UsersCommand(Map<String, String> env, PrintStream out) {
        UsersCommand.env = env;
        UsersCommand.out = out;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = {"Create the first admin (or a user) of a tenant that has no admin yet.",
                    "On a terminal it asks for the password; otherwise (or with --generate-password) it generates one and prints it once.",
                    "A tenant that already has an admin is refused (tenant-has-admins): its admins create users. --force overrides"
                            + " that for recovery and is recorded as tenant.user.create.forced in the platform and tenant audits."})
    static final class Create implements Callable<Integer> {
        private static final char[] ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".toCharArray();

        @Mixin
        CoreOptions core;

        @Option(names = "--tenant", required = true, paramLabel = "SLUG")
        String tenant;

        @Option(names = "--email", required = true)
        String email;

        @Option(names = "--role", defaultValue = "admin", description = "admin or member (default: admin)")
        String role;

        @Option(names = "--generate-password", description = "generate a password and print it once, even on a terminal")
        boolean generate;

        @Option(names = "--force", description = "create the user even though the tenant has admins (recovery; audited as forced)")
        boolean force;

        @Override
        public Integer call() {
            String password;
            boolean generated = false;
            Console console = System.console();
            if (!generate && console != null) {
                char[] first = console.readPassword("Password for %s: ", email);
                char[] second = console.readPassword("Again: ");
                if (first == null || !Arrays.equals(first, second)) {
                    out.println("the passwords do not match");
                    return 1;
                }
                password = new String(first);
            } else {
                SecureRandom random = new SecureRandom();
                char[] chars = new char[20];
                for (int i = 0; i < chars.length; i++) {
                    chars[i] = ALPHABET[random.nextInt(ALPHABET.length)];
                }
                password = new String(chars);
                generated = true;
            }
            try (SiloCore silo = core.open(env)) {
                Tenant target = silo.tenants().get(tenant);
                if (target.status() != TenantStatus.ACTIVE) {
                    throw new Conflict("invalid-state", "tenant '" + tenant + "' is " + target.status().wire());
                }
                User user = silo.users().createByOperator(target, email, role, password, Actor.cli(), force);
                if (force && !core.json) {
                    out.println("warning: created with --force; recorded as tenant.user.create.forced in the platform audit"
                            + " and the audit of tenant " + tenant);
                }
                if (core.json) {
                    Map<String, Object> view = new java.util.LinkedHashMap<>(user.view());
                    if (generated) {
                        view.put("password", password);
                    }
                    Output.json(out, view);
                } else {
                    out.println("user " + user.email() + " (" + user.role() + ") created in tenant " + tenant + ", id " + user.id());
                    if (generated) {
                        out.println("its password, shown this once: " + password);
                    }
                }
                return 0;
            }
        }
    }
}
