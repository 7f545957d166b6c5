package io.dijiang4j.tools.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Entry point of {@code bin/dijiang}. Exit codes: 0 success, 1 runtime failure, 2 bad input. */
@Command(
        name = "dijiang",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Linear-time, constant-memory kernelized attention (DiJiang) for Jlama models.",
        subcommands = {
            CommandLine.HelpCommand.class,
            GenerateCommand.class,
            ChatCommand.class,
            SampleCommand.class,
            EvalCommand.class,
            CalibrateCommand.class,
            ConvertCommand.class,
            io.dijiang4j.tools.synth.SynthModelCommand.class
        })
public final class Main implements Runnable {

    @Option(names = "--debug", description = "Print stack traces on errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean debug;

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        // Jlama logs through slf4j; where a simple binding is present keep it to warnings, on stderr
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        // java.util.logging (System.Logger) records on one line: "INFO: message"
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s: %5$s%6$s%n");
        }
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (used by tests without exiting the JVM). */
    public static int run(String... args) {
        PluginLog.install();
        CommandLine cli = commandLine();
        return cli.execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        for (CliExtension extension : ServiceLoader.load(CliExtension.class)) {
            for (Object command : extension.commands()) {
                cli.addSubcommand(command);
            }
        }
        boolean debug = java.util.Arrays.asList(
                        System.getProperty("sun.java.command", "").split(" "))
                .contains("--debug");
        cli.setExitCodeExceptionMapper(e -> e instanceof IllegalArgumentException ? 2 : 1);
        cli.setParameterExceptionHandler((e, args) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println("error: " + e.getMessage());
            err.flush();
            return 2;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            boolean wantTrace = debug || parseResult.hasMatchedOption("--debug");
            PrintWriter err = commandLine.getErr();
            if (wantTrace) e.printStackTrace(err);
            else err.println("error: " + oneLine(e));
            err.flush();
            return e instanceof IllegalArgumentException ? 2 : 1;
        });
        return cli;
    }

    /** The message of the root cause, on one line. */
    static String oneLine(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && (t.getMessage() == null || t.getMessage().isBlank())) t = t.getCause();
        String msg = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return msg.replace('\n', ' ').strip();
    }

    /**
     * The plugin's log records (System.Logger, i.e. java.util.logging here: INFO and up, e.g. the backend fallback or
     * the warning of mode dijiang on a softmax-trained model) on stderr as {@code dijiang: ...} lines, one per record,
     * written to the stderr of the moment (in-process runs capture it).
     */
    static final class PluginLog extends Handler {
        /** Held here: java.util.logging keeps loggers weakly, and would forget the handler with the logger. */
        private static final Logger LOGGER = Logger.getLogger("io.dijiang4j");

        private static boolean installed;

        static synchronized void install() {
            if (installed) return;
            installed = true;
            LOGGER.setUseParentHandlers(false);
            LOGGER.addHandler(new PluginLog());
        }

        private PluginLog() {
            setLevel(Level.INFO);
            setFormatter(new SimpleFormatter());
        }

        @Override
        public void publish(LogRecord record) {
            if (!isLoggable(record)) return;
            String prefix =
                    record.getLevel().intValue() >= Level.WARNING.intValue() ? "dijiang: warning: " : "dijiang: ";
            String message = getFormatter().formatMessage(record).replace('\n', ' ');
            System.err.println(prefix + message);
            System.err.flush();
        }

        @Override
        public void flush() {
            System.err.flush();
        }

        @Override
        public void close() {}
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("/io/dijiang4j/tools/version.properties")) {
                if (in != null) p.load(in);
            }
            return new String[] {
                "dijiang4j " + p.getProperty("version", "unknown") + " (jlama-core " + p.getProperty("jlama", "?")
                        + ", Java " + Runtime.version() + ")"
            };
        }
    }
}
