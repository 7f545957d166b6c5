package io.dijiang4j.tools.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tjake.jlama.safetensors.DType;
import io.dijiang4j.attention.AttentionSpec;
import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.calibration.Calibration;
import io.dijiang4j.plugin.calibration.CalibrationFile;
import io.dijiang4j.plugin.calibration.Fixtures;
import io.dijiang4j.plugin.calibration.ModelFingerprint;
import io.dijiang4j.plugin.calibration.Sidecars;
import io.dijiang4j.plugin.profile.Backend;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.ModelReference;
import io.dijiang4j.plugin.profile.Profile;
import io.dijiang4j.tools.synth.SyntheticModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SidecarLoadingTest {
    @TempDir
    Path temp;

    /** A random calibration made for stories260K (its real fingerprint), settings differing per layer. */
    static Calibration forStories(String fingerprint) {
        return Fixtures.random(Fixtures.model(fingerprint, 5, 8, 4, 8), "centroids", 16, 9);
    }

    private Path sidecar(Calibration c) {
        Path file = temp.resolve("calibration-" + System.nanoTime() + ".safetensors");
        CalibrationFile.write(file, c);
        return file;
    }

    static int[] tokens(int n) {
        SplittableRandom r = new SplittableRandom(4);
        int[] t = new int[n];
        t[0] = 1;
        for (int i = 1; i < n; i++) t[i] = 3 + r.nextInt(509);
        return t;
    }

    @Test
    void eachLayerGetsItsSpecFromTheSidecarAndTheStateStaysConstant() {
        Calibration c = forStories(ModelFingerprint.of(Stories260K.dir()));
        Profile profile = Stories260K.profile().withCalibration(CalibrationChoice.file(sidecar(c)));
        try (DiJiangModel model = DiJiang.load(profile)) {
            assertEquals(c, model.installation().calibration().orElseThrow());
            for (int layer = 0; layer < 5; layer++) {
                AttentionSpec spec = model.installation().spec(layer).orElseThrow();
                assertEquals(c.spec(layer, true, profile.blockSize()), spec, "layer " + layer);
                assertEquals(5 + 7 * layer, spec.window());
                assertEquals(2 * layer, spec.exactCache());
                if (layer > 0)
                    assertNotEquals(model.installation().spec(layer - 1).orElseThrow(), spec);
            }
            int[] tokens = tokens(2048);
            try (Session s = model.newSession()) {
                s.append(java.util.Arrays.copyOf(tokens, 256));
                long at256 = s.stateBytes();
                s.append(java.util.Arrays.copyOfRange(tokens, 256, 2048));
                assertEquals(2048, s.position());
                assertEquals(at256, s.stateBytes(), "state bytes at 256 and 2048 positions");
                for (float v : s.lastLogits().orElseThrow()) assertTrue(Float.isFinite(v));
            }
        }
        // pure linear attention takes the per-KV-head maps alone
        try (DiJiangModel model = DiJiang.load(profile.withMode(Mode.DIJIANG))) {
            AttentionSpec spec = model.installation().spec(3).orElseThrow();
            assertEquals(AttentionSpec.Method.LINEAR, spec.method());
            assertEquals(c.featureMap(3, 1), spec.featureMapOf(1));
        }
    }

    @Test
    void aSidecarOfAnotherModelIsRefusedNamingBoth() throws Exception {
        Path tiny = SyntheticModels.write(
                SyntheticModels.Shape.TINY.withContextLength(256), temp.resolve("tiny"), DType.F32, 3);
        Calibration other = Fixtures.random(Fixtures.model(ModelFingerprint.of(tiny), 2, 4, 2, 16), "wdcf", 8, 2);
        Profile profile = Stories260K.profile().withCalibration(CalibrationChoice.file(sidecar(other)));
        String message = assertThrows(IllegalArgumentException.class, () -> DiJiang.load(profile))
                .getMessage();
        assertTrue(message.contains("'test-model'") && message.contains("'stories260K'"), message);
        assertTrue(message.contains(Sidecars.shortHash(ModelFingerprint.of(tiny))), message);
        // the same shape with one byte of the fingerprint changed
        String real = ModelFingerprint.of(Stories260K.dir());
        String changed = (real.charAt(0) == '0' ? "1" : "0") + real.substring(1);
        Profile modified = Stories260K.profile().withCalibration(CalibrationChoice.file(sidecar(forStories(changed))));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DiJiang.load(modified))
                .getMessage()
                .contains("was made for model"));
    }

    @Test
    void theSidecarBesideTheModelIsFoundInHybridOnlyAndCalibrationNoneIgnoresIt() throws Exception {
        Path dir = Files.createDirectories(temp.resolve("stories-copy"));
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"}) {
            Files.copy(Stories260K.dir().resolve(f), dir.resolve(f));
        }
        Calibration c = forStories(ModelFingerprint.of(dir));
        CalibrationFile.write(dir.resolve(CalibrationChoice.DEFAULT_FILE_NAME), c);
        Profile auto = Profile.defaults(ModelReference.local(dir)).withBackend(Backend.CPU);
        assertEquals(CalibrationChoice.AUTO, auto.calibration());
        try (DiJiangModel model = DiJiang.load(auto)) {
            assertEquals(
                    c.spec(4, true, auto.blockSize()),
                    model.installation().spec(4).orElseThrow());
        }
        try (DiJiangModel model = DiJiang.load(auto.withCalibration(CalibrationChoice.NONE))) {
            assertFalse(model.installation().calibration().isPresent());
            assertEquals(64, model.installation().spec(4).orElseThrow().window());
        }
        try (DiJiangModel model = DiJiang.load(auto.withMode(Mode.SOFTMAX))) {
            assertFalse(model.installation().calibration().isPresent());
        }
    }

    @Test
    void aProfileThatSetsAKeyTheSidecarHoldsIsRefusedNamingTheKeyAndTheSidecar() throws Exception {
        Path file = sidecar(forStories(ModelFingerprint.of(Stories260K.dir())));
        Profile withSidecar = Stories260K.profile().withCalibration(CalibrationChoice.file(file));
        for (Profile p : List.of(
                withSidecar.withHybrid(4, 36),
                withSidecar.withFeatures(FeatureMapKind.PFF, 8),
                withSidecar.withExactCache(4, ExactCachePolicy.SELF_RECALL))) {
            String message = assertThrows(IllegalArgumentException.class, () -> DiJiang.load(p))
                    .getMessage();
            assertTrue(message.contains("the calibration sidecar " + file + " sets it per layer"), message);
            assertTrue(message.matches("key '(sinks|feature_map|exact_cache)': .*"), message);
        }
        try (DiJiangModel model = DiJiang.load(withSidecar.withHybrid(4, 36).withCalibration(CalibrationChoice.NONE))) {
            assertEquals(36, model.installation().spec(0).orElseThrow().window(), "calibration none: the profile's");
        }
    }

    @Test
    void theCentroidMapWithoutItsSidecarIsOneClearError() {
        Profile profile = Stories260K.profile().withFeatures(FeatureMapKind.CENTROIDS, 16); // calibration none
        String message = assertThrows(IllegalArgumentException.class, () -> DiJiang.load(profile))
                .getMessage();
        assertTrue(message.contains("centroids") && message.contains("calibrate"), message);
        Path missing = temp.resolve("missing.safetensors");
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> DiJiang.load(profile.withCalibration(CalibrationChoice.file(missing))))
                .getMessage()
                .contains("not found"));
    }
}
