package dev.silo.app;

import dev.silo.cli.ServeCommand;
import dev.silo.cli.VersionCommand;
import dev.silo.platform.config.ConfigException;
import org.slf4j.LoggerFactory;
import dev.silo.platform.log.HelidonLogging;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Map;

/** The {@code silo} command. Exit status: 0 success, 1 failure, 2 bad configuration or usage. */
@Command(name = "silo",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Silo: a multi-tenant SaaS backend. Every customer gets its own PostgreSQL database, role, secret and key.",
        subcommands = {CommandLine.HelpCommand.class},
        footer = {"", "Run 'silo COMMAND --help' for the options of a command. Start with: silo serve"})
public final class Main implements Runnable {
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_CONFIG = 2;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        if (args.length == 0 || !args[0].equals("serve")) {
            // A command's output is on stdout; its logs go to stderr, warnings only unless asked.
            System.setProperty("SILO_LOG_TARGET", "System.err");
            if (System.getenv("SILO_LOG_LEVEL") == null) {
                System.setProperty("SILO_LOG_LEVEL", "WARN");
            }
        }
        new HelidonLogging().initialization();
        int code = run(args, System.getenv(), System.out, System.err);
        if (code != 0 || !(args.length > 0 && args[0].equals("serve"))) {
            System.exit(code);
        }
    }

    /** Runs a command line with the given environment; returns the exit status. */
    public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.addSubcommand(new ServeCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.InitCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.MigrateCommand(env, out));
        commandLine.addSubcommand(new VersionCommand(out));
        commandLine.addSubcommand(new dev.silo.cli.TenantsCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.UsersCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.OperatorsCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.AccessCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.PlacementsCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.ClusterCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.AuditCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.BackupsCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.RestoreCommand(env, out));
        commandLine.addSubcommand(new dev.silo.cli.LogsCommand(env, out, err));
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        commandLine.setExecutionExceptionHandler((exception, cmd, parseResult) -> {
            if (exception instanceof ConfigException) {
                err.println("silo: " + exception.getMessage());
                return EXIT_CONFIG;
            }
            if (exception instanceof dev.silo.platform.problem.Problem problem) {
                err.println("silo: " + problem.getMessage());
                return EXIT_FAILURE;
            }
            if (exception instanceof StartupException) {
                err.println("silo: " + exception.getMessage());
                return EXIT_FAILURE;
            }
            LoggerFactory.getLogger(Main.class).error("Command failed", exception);
            err.println("silo: " + cmd.getCommandName() + " failed: " + exception.getMessage());
            return EXIT_FAILURE;
        });
        return commandLine.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            BuildInfo build = BuildInfo.load();
            return new String[] {"silo " + build.version() + " (commit " + build.commitLabel() + ")"};
        }
    }
}
