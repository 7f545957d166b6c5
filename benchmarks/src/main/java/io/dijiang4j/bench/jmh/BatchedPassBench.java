package io.dijiang4j.bench.jmh;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.synth.SyntheticModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One forward pass of a batched server: {@code sessions} decoding sessions advanced by a token each in one pass
 * ({@link DiJiangModel#advance}), on a synthetic shape with Q4 weights and the project's matrix products, every session
 * holding {@code context} tokens (the hybrid's memory full: each step folds a token and merges two clusters). The
 * model's work alone: no sampling, streaming or scheduling. A pass of 8 against one of 1 is what batching can gain
 * at most (issue 16: 3x the serialized runtime's throughput at 8 clients needs a pass of 8 within 2.67 passes of 1).
 */
@State(Scope.Benchmark)
@BenchmarkMode(org.openjdk.jmh.annotations.Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {
            "--add-modules",
            "jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED",
            "-XX:MaxVectorSize=32",
            "-Djlama.force_panama_tensor_operations=true",
            "-Xmx6g"
        })
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 10, time = 2)
public class BatchedPassBench {
    @Param({"1", "8"})
    int sessions;

    @Param("2000")
    int context;

    @Param("small")
    String shape;

    @Param("hybrid")
    String mode;

    /** Clusters of the hybrid's online memory per KV head; 0: the profile's default (64). */
    @Param("0")
    int clusters;

    private Path dir;
    private DiJiangModel model;
    private final List<Session> open = new ArrayList<>();
    private final SplittableRandom random = new SplittableRandom(11);
    private int vocabulary;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("dijiang4j-pass-bench-");
        SyntheticModels.write(SyntheticModels.Shape.named(shape), dir.resolve(shape), SyntheticModels.dtype("Q4"), 42);
        Profile profile = Profile.defaults(ModelReference.local(dir.resolve(shape)))
                .withMode(Mode.parse(mode))
                .withBackend(Backend.CPU);
        if (clusters > 0) profile = profile.withFeatures(FeatureMapKind.ONLINE, clusters);
        model = DiJiang.load(profile);
        vocabulary = model.vocabularySize();
        for (int i = 0; i < sessions; i++) {
            Session s = model.newSession();
            s.prefill(model.tokens()
                    .withBos(random.ints(context - 1, 3, vocabulary).toArray()));
            open.add(s);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        for (Session s : open) s.close();
        open.clear();
        if (model != null) model.close();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    @Benchmark
    public float[][] pass() {
        List<int[]> tokens = new ArrayList<>(sessions);
        for (int i = 0; i < sessions; i++) tokens.add(new int[] {random.nextInt(3, vocabulary)});
        return model.advance(open, tokens);
    }
}
