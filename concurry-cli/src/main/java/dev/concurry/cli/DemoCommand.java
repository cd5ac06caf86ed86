package dev.concurry.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code concurry demo [llm|all]}: the seed's scenarios against real local services. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Runs the seed's scenarios against local services that enforce their own limits.",
                "llm: 500 requests + 10,000 tokens per (scaled) minute against a local LLM-like HTTP API.",
                "db: 20 process workers against a real PostgreSQL that allows 5 connections.",
                "regions: two local API regions with their own quotas behind one LimitPool.",
                "feedback: a quota configured twice too high, corrected by listening to the API's headers;",
                "cluster: the llm scenario with workers on 3 member JVMs of a Hazelcast cluster sharing one limit set;",
                "         one member is killed mid-run (not part of 'all': it starts JVMs)."})
final class DemoCommand implements Callable<Integer> {

    enum Scenario {
        llm, db, regions, feedback, cluster, all
    }

    @Parameters(index = "0", arity = "0..1", defaultValue = "all",
            description = "Which scenario: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Scenario scenario;

    @Option(names = "--seconds", description = "How long each run lasts (default: 6; 8 for cluster).")
    Double seconds;

    @Option(names = "--minute", description = "Seconds that one simulated minute lasts (default: 2; 4 for cluster,"
            + " whose grants reach the workers across JVMs, a delay the API's 5% margin must cover).")
    Double minute;

    @Option(names = "--workers", defaultValue = "10", description = "Concurrent workers (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--mode", defaultValue = "THREAD",
            description = "Worker mode of the LLM scenario: THREAD or VIRTUAL (default: ${DEFAULT-VALUE}).")
    dev.concurry.worker.Mode mode;

    @Option(names = "--db-workers", defaultValue = "20",
            description = "Workers of the database scenario (default: ${DEFAULT-VALUE}).")
    int dbWorkers;

    @Option(names = "--db-mode", defaultValue = "PROCESS",
            description = "Worker mode of the database scenario: PROCESS (the seed's), THREAD or VIRTUAL (default: ${DEFAULT-VALUE}).")
    dev.concurry.worker.Mode dbMode;

    @Option(names = "--members", defaultValue = "3",
            description = "Member JVMs of the cluster scenario (default: ${DEFAULT-VALUE}).")
    int members;

    @Option(names = "--port", defaultValue = "0", description = "Port of the local API server; 0 picks a free one.")
    int port;

    @Option(names = "--no-limits", description = "Run the same workload without limits, to show what goes wrong.")
    boolean noLimits;

    @Option(names = "--output", defaultValue = "concurry-demo",
            description = "Directory for the charts (default: ${DEFAULT-VALUE}).")
    Path output;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (dbMode == dev.concurry.worker.Mode.SYNC) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--db-mode must be PROCESS, THREAD or VIRTUAL");
        }
        if (mode != dev.concurry.worker.Mode.THREAD && mode != dev.concurry.worker.Mode.VIRTUAL) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--mode must be THREAD or VIRTUAL, got " + mode);
        }
        double runSeconds = seconds != null ? seconds : scenario == Scenario.cluster ? 8 : 6;
        double minuteSeconds = minute != null ? minute : scenario == Scenario.cluster ? 4 : 2;
        if (runSeconds <= 0 || minuteSeconds <= 0 || workers < 1 || dbWorkers < 1 || members < 2 || port < 0
                || port > 65535) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--seconds and --minute must be > 0, --workers >= 1, --members >= 2, --port in 0..65535");
        }
        Duration runFor = Duration.ofMillis((long) (runSeconds * 1000));
        Duration scaledMinute = Duration.ofMillis((long) (minuteSeconds * 1000));
        var out = spec.commandLine().getOut();
        out.printf("Concurry demo: %s%n", scenario);
        if (scenario == Scenario.llm || scenario == Scenario.all) {
            LlmScenario.Result llm = new LlmScenario(workers, mode, runFor, scaledMinute, !noLimits, port).run();
            llm.print(out);
            Path chart = RateChart.tokensPerMinute(output.resolve("llm-tokens-per-minute.png"), List.of(llm));
            out.printf("  %-34s %s%n", "chart of the admitted rate", chart);
            out.flush();
        }
        if (scenario == Scenario.db || scenario == Scenario.all) {
            new DbScenario(dbWorkers, dbMode, runFor, !noLimits).run().print(out);
        }
        if (scenario == Scenario.regions || scenario == Scenario.all) {
            new RegionsScenario(workers, runFor, scaledMinute, !noLimits).run().print(out);
        }
        if (scenario == Scenario.feedback || scenario == Scenario.all) {
            FeedbackScenario.Result feedback = new FeedbackScenario(workers, mode, runFor, scaledMinute).run();
            feedback.print(out);
            Path chart = RateChart.providerFeedback(output.resolve("provider-feedback.png"), feedback);
            out.printf("  %-44s %s%n", "chart of both runs", chart);
            out.flush();
        }
        if (scenario == Scenario.cluster) {
            new ClusterScenario(members, workers, runFor, scaledMinute, port).run().print(out);
        }
        return 0;
    }
}
