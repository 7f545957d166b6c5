package io.dijiang4j.bench;

import io.dijiang4j.tools.cli.CliExtension;
import java.util.List;

/** Adds {@code dijiang bench}, {@code long-context}, {@code bench-batch} and {@code bench-serve} to the CLI. */
public final class BenchCliExtension implements CliExtension {
    @Override
    public List<Object> commands() {
        return List.of(
                new BenchCommand(),
                new io.dijiang4j.bench.longctx.LongContextCommand(),
                new BatchThroughputCommand(),
                new io.dijiang4j.bench.serve.ServeBenchCommand());
    }
}
