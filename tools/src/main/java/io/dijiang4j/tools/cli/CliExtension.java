package io.dijiang4j.tools.cli;

/**
 * Adds subcommands to {@code dijiang} from modules that depend on the plugin (the bench command lives in the
 * benchmarks module). Registered through ServiceLoader.
 */
public interface CliExtension {
    /** Returns the picocli command objects (classes annotated with {@code @Command}) to add. */
    java.util.List<Object> commands();
}
