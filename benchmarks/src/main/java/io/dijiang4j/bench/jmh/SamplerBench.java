package io.dijiang4j.bench.jmh;

import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.generation.Sampler;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One sampled token ({@link Sampler#next}) from a vocabulary of Gaussian logits (sd 2.5): what a request thread
 * spends between two decode steps when it samples. Vocabularies: the synthetic medium shape's 32000, SmolLM2's 49152,
 * Llama 3's 128256; settings: temperature alone (OpenAI's default top_p 1), a top-p nucleus, a top-k.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SamplerBench {
    @Param({"32000", "49152", "128256"})
    int vocab;

    /** temperature/top_p/top_k */
    @Param({"1/1/0", "0.7/0.9/0", "1/1/40"})
    String setting;

    private float[] logits;
    private Sampler sampler;

    @Setup
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(vocab);
        logits = new float[vocab];
        for (int i = 0; i < vocab; i++) logits[i] = (float) (rnd.nextGaussian() * 2.5);
        String[] s = setting.split("/");
        GenerationOptions options = new GenerationOptions(
                100, Float.parseFloat(s[0]), Float.parseFloat(s[1]), Integer.parseInt(s[2]), null, true);
        sampler = new Sampler(options, 7);
    }

    @Benchmark
    public int next() {
        return sampler.next(logits);
    }
}
