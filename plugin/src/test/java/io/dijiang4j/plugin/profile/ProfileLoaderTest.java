package io.dijiang4j.plugin.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.attention.ExactCachePolicy;
import io.dijiang4j.plugin.generation.GenerationOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProfileLoaderTest {
    @TempDir
    Path temp;

    Path write(String name, String text) throws Exception {
        Path f = temp.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    String error(String text) throws Exception {
        Path f = write("p.yaml", text);
        ProfileException e = assertThrows(ProfileException.class, () -> ProfileLoader.load(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void readsEveryKeyAndResolvesTheModelAgainstTheFilesDirectory() throws Exception {
        Files.createDirectories(temp.resolve("models/m"));
        Path f = write("full.yaml", """
                model: models/m
                mode: dijiang
                except_layers: [1, 3]
                feature_map: performer
                features: 48
                sinks: 2
                window: 100
                block_size: 32
                decay: 0.99
                backend: cpu
                seed: 7
                feature_seed: 9
                max_tokens: 12
                temperature: 0
                top_p: 0.5
                top_k: 3
                """);
        Profile p = ProfileLoader.load(f);
        assertEquals(ModelReference.local(temp.resolve("models/m")), p.model());
        assertEquals(Mode.DIJIANG, p.mode());
        assertEquals(LayerSelection.allBut(List.of(1, 3)), p.layers());
        assertEquals(Set.of(0, 2, 4), p.layers().resolve(5));
        assertEquals(FeatureMapKind.PERFORMER, p.featureMap());
        assertEquals(48, p.features());
        assertEquals(2, p.sinks());
        assertEquals(100, p.window());
        assertEquals(32, p.blockSize());
        assertEquals(0.99, p.decay());
        assertEquals(Backend.CPU, p.backend());
        assertEquals(9, p.featureSeed());
        assertEquals(new GenerationOptions(12, 0f, 0.5f, 3, 7L, true), p.generation());
        assertEquals(7, p.samplingSeed());
        assertEquals(2, p.source().keyLines().get("mode"));
    }

    @Test
    void layersAllOrAListAndDefaults() throws Exception {
        Profile p = ProfileLoader.load(write("a.yaml", "model: /x\nlayers: [0, 2]\n"));
        assertEquals(Set.of(0, 2), p.layers().resolve(3));
        assertEquals(Mode.HYBRID, p.mode());
        // without seed keys: the feature maps on the default seed, the sampling stream too (no request seed)
        assertEquals(Profile.DEFAULT_SEED, p.featureSeed());
        assertEquals(null, p.generation().seed());
        assertEquals(Profile.DEFAULT_SEED, p.samplingSeed());
        assertEquals(GenerationOptions.DEFAULT_TEMPERATURE, p.generation().temperature());
        assertEquals(
                LayerSelection.all(),
                ProfileLoader.load(write("b.yaml", "model: /x\nlayers: all\n")).layers());
        ModelReference hf =
                ProfileLoader.load(write("c.yaml", "model: hf:owner/name\n")).model();
        assertEquals(new ModelReference.HuggingFace("owner/name"), hf);
        assertEquals("hf:owner/name", hf.toString());
        assertEquals(Path.of("/cache/owner_name"), hf.directory(Path.of("/cache")));
    }

    @Test
    void typoKeyNamesTheFileTheLineAndTheKey() throws Exception {
        String m = error("model: /x\nmode: hybrid\nwindw: 64\n");
        assertTrue(m.contains(":line 3: key 'windw': unknown key (did you mean 'window'?)"), m);
    }

    @Test
    void wrongTypesAndImpossibleValuesNameTheirKeyAndLine() throws Exception {
        assertTrue(error("model: /x\nwindow: -4\n").contains("line 2: key 'window': must be >= 0, got -4"));
        assertTrue(error("model: /x\nfeatures: 0\n").contains("line 2: key 'features': must be a positive"));
        assertTrue(error("model: /x\n\nfeatures: many\n").contains("line 3: key 'features': expected a whole number"));
        assertTrue(error("model: /x\ndecay: 1.5\n").contains("key 'decay': must be in (0, 1]"));
        assertTrue(
                error("model: /x\nmode: fast\n").contains("key 'mode': mode must be one of softmax, dijiang, hybrid"));
        assertTrue(error("model: /x\nlayers: [a]\n").contains("key 'layers': list items must be layer indices"));
        assertTrue(error("model: /x\nlayers: [-1]\n").contains("key 'layers': layer index must be >= 0"));
        assertTrue(error("model: /x\nlayers: [1]\nexcept_layers: [2]\n").contains("not both"));
        assertTrue(error("model: /x\nbackend: tpu\n")
                .contains("key 'backend': must be one of auto, cpu, cuda, got 'tpu'"));
        assertTrue(error("model: /x\nfeature_map: fourier\n")
                .contains("key 'feature_map': must be one of wdcf, wdcf-mc, dijiang-code, performer,"
                        + " performer-orthogonal, pff, centroids, online, none, got 'fourier'"));
        assertTrue(error("model: hf:no-owner\n")
                .contains(
                        "line 1: key 'model': a Hugging Face model is written" + " hf:owner/name, got 'hf:no-owner'"));
        assertTrue(error("model: /x\nwindow: [1]\n").contains("key 'window': expected a whole number, got a list"));
        assertTrue(error("mode: hybrid\n").contains("key 'model': missing"));
        assertTrue(error("model: /x\nmodel: /y\n").contains("line 2: key 'model': key given twice"));
        assertTrue(error("model: [unclosed\n").contains("not valid YAML"));
        assertTrue(error("- a\n- b\n").contains("a profile is a mapping"));
    }

    @Test
    void exactCachePolicyAndCalibrationKeys() throws Exception {
        Path f = write("cal.yaml", """
                model: /x
                feature_map: centroids
                exact_cache: 6
                cache_policy: self_recall
                calibration: sidecars/stories.safetensors
                """);
        Profile p = ProfileLoader.load(f);
        assertEquals(6, p.exactCache());
        assertEquals(ExactCachePolicy.SELF_RECALL, p.cachePolicy());
        assertEquals(FeatureMapKind.CENTROIDS, p.featureMap());
        assertEquals(CalibrationChoice.file(temp.resolve("sidecars/stories.safetensors")), p.calibration());
        assertEquals(5, p.source().keyLines().get("calibration"));
        Profile d = ProfileLoader.load(write("d.yaml", "model: /x\n"));
        assertEquals(0, d.exactCache());
        assertEquals(ExactCachePolicy.HEAVY_HITTER, d.cachePolicy());
        assertEquals(CalibrationChoice.AUTO, d.calibration());
        assertEquals(
                CalibrationChoice.NONE,
                ProfileLoader.load(write("e.yaml", "model: /x\ncalibration: none\n"))
                        .calibration());
        assertEquals(
                CalibrationChoice.file(Path.of("/abs/c.safetensors")),
                ProfileLoader.load(write("g.yaml", "model: /x\ncalibration: /abs/c.safetensors\n"))
                        .calibration());
        // withers keep the new keys
        Profile changed = p.withHybrid(2, 30).withMode(Mode.DIJIANG).withFeatures(FeatureMapKind.WDCF, 8);
        assertEquals(6, changed.exactCache());
        assertEquals(p.calibration(), changed.calibration());
        assertEquals(2, changed.sinks());
        assertEquals(4, p.withExactCache(4, ExactCachePolicy.HEAVY_HITTER).exactCache());
    }

    @Test
    void theSourceListsTheKeysSetInTheFileAndInCode() throws Exception {
        Profile p = ProfileLoader.load(write("s.yaml", "model: /x\nwindow: 8\n"));
        assertTrue(p.source().sets("window") && !p.source().sets("sinks"));
        Profile changed = p.withHybrid(2, 30).withFeatures(FeatureMapKind.PFF, 8);
        assertEquals(2, changed.source().keyLines().get("window"), "a key from the file keeps its line");
        assertEquals(0, changed.source().keyLines().get("sinks"), "a key set in code has no line");
        assertTrue(changed.source().sets("feature_map") && changed.source().sets("features"));
    }

    @Test
    void seededFeatureMapKindsAreThoseTheKernelLibraryBuilds() {
        List<String> seeded = java.util.Arrays.stream(FeatureMapKind.values())
                .filter(FeatureMapKind::seeded)
                .map(FeatureMapKind::key)
                .toList();
        assertEquals(io.dijiang4j.attention.features.FeatureMaps.KINDS, seeded);
        assertEquals(io.dijiang4j.attention.features.FeatureMaps.CENTROIDS, FeatureMapKind.CENTROIDS.key());
    }

    @Test
    void badCacheAndCalibrationValuesNameTheirKeyAndLine() throws Exception {
        assertTrue(error("model: /x\nexact_cache: -1\n").contains("line 2: key 'exact_cache': must be >= 0"));
        assertTrue(error("model: /x\nexact_cache: some\n").contains("key 'exact_cache': expected a whole number"));
        assertTrue(error("model: /x\n\ncache_policy: lru\n")
                .contains("line 3: key 'cache_policy': must be one of heavy_hitter, self_recall, got 'lru'"));
        assertTrue(error("model: /x\ncalibration: [a]\n").contains("key 'calibration': expected a text value"));
        assertTrue(error("model: /x\nexact_cach: 3\n").contains("did you mean 'exact_cache'?"));
    }

    @Test
    void outOfRangeLayersAreReportedAgainstTheModel() {
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> LayerSelection.only(List.of(0, 7)).resolve(5));
        assertEquals("layer index 7 out of range: the model has layers 0..4", e.getMessage());
    }

    @Test
    void missingFileIsOneLine() {
        var e = assertThrows(ProfileException.class, () -> ProfileLoader.load(temp.resolve("nope.yaml")));
        assertTrue(e.getMessage().endsWith("nope.yaml: profile file not found"), e.getMessage());
    }
}
