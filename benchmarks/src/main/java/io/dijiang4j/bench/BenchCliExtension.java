package io.dijiang4j.bench;

import io.dijiang4j.tools.cli.CliExtension;
import java.util.List;

/** Adds {@code dijiang bench} to the CLI. */
public final class BenchCliExtension implements CliExtension {
    @Override
    public List<Object> commands() {
        return List.of(new BenchCommand(), new io.dijiang4j.bench.longctx.LongContextCommand());
    }
}
