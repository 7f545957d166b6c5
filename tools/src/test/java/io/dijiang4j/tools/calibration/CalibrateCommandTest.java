package io.dijiang4j.tools.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.calibration.Calibration;
import io.dijiang4j.plugin.calibration.CalibrationFile;
import io.dijiang4j.plugin.gguf.TinyGguf;
import io.dijiang4j.plugin.profile.ProfileLoader;
import io.dijiang4j.tools.cli.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dijiang calibrate} in process: a small run from a text file, and bad input. */
class CalibrateCommandTest {
    @TempDir
    Path temp;

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    Path profile(String extra) throws Exception {
        return Files.writeString(
                temp.resolve("profile.yaml"),
                "model: " + Stories260K.dir() + "\nmode: hybrid\nbackend: cpu\ncalibration: cal/side.safetensors\n"
                        + extra);
    }

    /** {@code calibrate} from a text file with a small plan: 8 features, 2 sinks, a budget of 14, window 8. */
    static CliRun calibrateSmall(Path config, Path texts, String... more) {
        List<String> args = new ArrayList<>(List.of(
                "calibrate",
                "--config",
                config.toString(),
                "--text-file",
                texts.toString(),
                "--features",
                "8",
                "--sinks",
                "2",
                "--budget",
                "14",
                "--windows",
                "8"));
        args.addAll(List.of(more));
        return run(args.toArray(String[]::new));
    }

    @Test
    void calibratesFromATextFileIntoTheProfilesSidecarWhichTheProfileThenLoads() throws Exception {
        Path config = profile("");
        Path texts = Files.writeString(
                temp.resolve("texts.txt"),
                "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with"
                        + " her dog. One day, she saw a big tree with a red ball in it. She wanted the ball, so she"
                        + " asked her mom for help.\n<<<STORY>>>\nTom had a big red ball. He liked to throw it high"
                        + " in the sky. One day, the ball fell in the pond and Tom was sad. His friend Sam came to"
                        + " help him get the ball out of the water.\n");
        CliRun r = calibrateSmall(
                config,
                texts,
                "--caches",
                "0,2",
                "--baseline-out",
                temp.resolve("plain.safetensors").toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("layer"), r.out());
        assertTrue(r.out().contains("plain window, same budget"), r.out());
        // the windows: 8 and the calibration-free split's 12 (budget 14 - 2 sinks)
        assertTrue(r.err().contains("layer 5/5: fitted the centroids memory for 2 windows"), r.err());
        assertTrue(r.err().contains("candidates (memory off, fitted, online) on 2 texts of the recording"), r.err());
        assertFalse(r.err().contains("warning"), "the recording pass warns about nothing: " + r.err());
        Path side = temp.resolve("cal/side.safetensors");
        Calibration c = CalibrationFile.read(side);
        assertEquals("texts.txt", c.settings().source());
        assertEquals(2, c.settings().texts());
        assertTrue(c.averageExactTokens() <= 14, "over budget: " + c.averageExactTokens());
        try (DiJiangModel model = DiJiang.load(ProfileLoader.load(config))) {
            assertEquals(c, model.installation().calibration().orElseThrow());
        }
        Calibration plain = CalibrationFile.read(temp.resolve("plain.safetensors"));
        for (Calibration.Layer layer : plain.layers()) {
            assertEquals(14, layer.exactTokens());
            assertEquals(12, layer.window());
            assertFalse(layer.memory());
        }
    }

    @Test
    void calibratesAGgufModelNotYetConvertedIntoTheModelCache() throws Exception {
        Path gguf = TinyGguf.write(temp.resolve("tiny.gguf"));
        Path cache = temp.resolve("cache");
        Path config = Files.writeString(
                temp.resolve("gguf.yaml"),
                "model: " + gguf + "\nmodel_cache: " + cache + "\nmode: hybrid\nbackend: cpu\ncalibration: none\n");
        Path texts = Files.writeString(
                temp.resolve("texts.txt"),
                "Once upon a time there was a small cat that liked to sit in the sun by the door.\n<<<STORY>>>\n"
                        + "A boy found a red ball in the park and threw it to his dog, who ran after it.\n");
        Path side = temp.resolve("tiny.safetensors");
        CliRun r = calibrateSmall(config, texts, "--caches", "0", "--out", side.toString());
        // the conversion happens on the way (the model directory was looked up before it, and was not found)
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("converted into"), r.err());
        assertEquals(2, CalibrationFile.read(side).layers().size());
    }

    @Test
    void badInputIsOneLineAndExitCode2() throws Exception {
        Path config = profile("");
        CliRun tooSmall = run("calibrate", "--config", config.toString(), "--budget", "3", "--windows", "4");
        assertEquals(2, tooSmall.exitCode(), tooSmall.err());
        assertTrue(tooSmall.err().startsWith("error: the budget 3.0 is below sinks"), tooSmall.err());
        assertEquals(1, tooSmall.err().strip().lines().count(), tooSmall.err());
        CliRun noFile = run(
                "calibrate",
                "--config",
                config.toString(),
                "--text-file",
                temp.resolve("x.txt").toString());
        assertEquals(2, noFile.exitCode(), noFile.err());
        CliRun mode = run("calibrate", "--config", config.toString(), "--mode", "dijiang");
        assertEquals(2, mode.exitCode());
        assertTrue(mode.err().contains("do not apply"), mode.err());
        Path softmax = Files.writeString(temp.resolve("s.yaml"), "model: " + Stories260K.dir() + "\nmode: softmax\n");
        CliRun wrongMode = run("calibrate", "--config", softmax.toString());
        assertEquals(2, wrongMode.exitCode());
        assertTrue(wrongMode.err().contains("use mode hybrid"), wrongMode.err());
        CliRun badMap = run("calibrate", "--config", config.toString(), "--feature-map", "fourier");
        assertEquals(2, badMap.exitCode());
        assertTrue(badMap.err().startsWith("error: --feature-map must be one of wdcf, "), badMap.err());
        Path setsSinks = profile("sinks: 2\n");
        CliRun held = run("calibrate", "--config", setsSinks.toString());
        assertEquals(2, held.exitCode());
        assertTrue(held.err().contains("key 'sinks': calibrate chooses it and writes it into the sidecar"), held.err());
        assertEquals(1, held.err().strip().lines().count(), held.err());
        assertFalse(Files.exists(temp.resolve("cal/side.safetensors")), "nothing written on bad input");
    }
}
