package dev.concurry.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code concurry} command line. */
@Command(name = "concurry", mixinStandardHelpOptions = true, version = "concurry 0.1.0",
        description = "Run work concurrently while respecting the limits of what you call.",
        subcommands = {DemoCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (for tests). */
    static int run(String... args) {
        return commandLine().execute(args);
    }

    /** The command line, with failures reported as one clear line (and a non-zero exit), not a stack trace. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("concurry: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            commandLine.getErr().flush();
            return 2;
        });
        return cli;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: try 'concurry demo'");
    }
}
