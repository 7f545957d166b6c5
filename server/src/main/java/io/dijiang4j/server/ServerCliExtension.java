package io.dijiang4j.server;

import io.dijiang4j.tools.cli.CliExtension;
import java.util.List;

/** Adds {@code dijiang serve} to the CLI. */
public final class ServerCliExtension implements CliExtension {
    @Override
    public List<Object> commands() {
        return List.of(new ServeCommand());
    }
}
