package dev.hypha.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code hypha}: the mesh's command line. Exit codes scripts can rely on: 0 success, 1 the command ran and found a
 * problem (a failed check, a document that could not be injected), 2 bad usage (an unknown flag, a bad value).
 */
@Command(name = "hypha", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT,
        versionProvider = Hypha.Version.class,
        description = "Hypha, a lightweight service mesh for Kubernetes.",
        subcommands = {InstallCommand.class, UninstallCommand.class, InjectCommand.class, CheckCommand.class,
            StatsCommands.Stat.class, StatsCommands.Routes.class, StatsCommands.Edges.class, TapCommands.Tap.class,
            TapCommands.Top.class, VersionCommand.class})
public final class Hypha implements Runnable {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs a command line with the given streams; returns the exit code (tests call this). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Hypha());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof UserException u) {
                cmd.getErr().println("hypha " + cmd.getCommandName() + ": " + u.getMessage());
                return u.exitCode();
            }
            cmd.getErr().println("hypha " + cmd.getCommandName() + ": " + e);
            return FAILED;
        });
        int rc = cl.execute(args);
        out.flush();
        err.flush();
        return rc;
    }

    /** An error the user can fix: printed as one clear sentence, without a stack trace. */
    public static final class UserException extends RuntimeException {
        private final int exitCode;

        public UserException(String message, int exitCode) {
            super(message);
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"hypha " + dev.hypha.inject.MeshValues.defaults().get("version")};
        }
    }
}
