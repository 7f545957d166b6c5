package io.dijiang4j.tools.calibration;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.fit.KvHeadSequence;
import io.dijiang4j.attention.jlama.AttentionObserver;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.LayerSelection;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Records the original model's post-RoPE queries, keys and values per layer and KV head over teacher-forced texts,
 * without changing Jlama: every layer runs the hybrid with no sinks and a window longer than any text, which equals
 * softmax attention exactly (the memory never receives a token), and an {@link AttentionObserver} copies what each
 * layer computes.
 */
final class AttentionRecorder {
    private AttentionRecorder() {}

    /**
     * The rows of every text: {@code result.get(layer).get(kvHead)} lists one {@link KvHeadSequence} per text.
     *
     * @param vanilla a model with Jlama's softmax attention on every layer (the hybrid is installed into it for the
     *     recording and removed afterwards)
     * @param profile the profile (model, block size; mode and map are replaced for the recording)
     * @param sequences token ids fed as they are (BOS first)
     */
    static List<List<List<KvHeadSequence>>> record(
            DiJiangModel vanilla, Profile profile, List<int[]> sequences, Consumer<String> progress) {
        var c = vanilla.config();
        int longest = sequences.stream().mapToInt(s -> s.length).max().orElse(1);
        Profile fullWindow = profile.withMode(Mode.HYBRID)
                .withLayers(LayerSelection.all())
                .withHybrid(0, longest)
                .withExactCache(0, profile.cachePolicy())
                .withFeatures(FeatureMapKind.WDCF, 1) // never used: no token leaves the window
                .withCalibration(CalibrationChoice.NONE);
        AttentionShape shape = new AttentionShape(c.numberOfHeads, c.numberOfKeyValueHeads, c.headSize);
        int layers = c.numberOfLayers;
        List<List<List<KvHeadSequence>>> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            List<List<KvHeadSequence>> heads = new ArrayList<>();
            for (int h = 0; h < shape.numKvHeads(); h++) heads.add(new ArrayList<>());
            out.add(heads);
        }
        try (DiJiangModel recording = DiJiang.install(vanilla.jlama(), fullWindow)) {
            for (int t = 0; t < sequences.size(); t++) {
                int length = sequences.get(t).length;
                float[][] q = new float[layers][length * shape.queryWidth()];
                float[][] k = new float[layers][length * shape.kvWidth()];
                float[][] v = new float[layers][length * shape.kvWidth()];
                recording.setObserver((layer, start, rows, qs, ks, vs, o) -> {
                    int p = Math.toIntExact(start);
                    System.arraycopy(qs, 0, q[layer], p * shape.queryWidth(), rows * shape.queryWidth());
                    System.arraycopy(ks, 0, k[layer], p * shape.kvWidth(), rows * shape.kvWidth());
                    System.arraycopy(vs, 0, v[layer], p * shape.kvWidth(), rows * shape.kvWidth());
                });
                try (Session s = recording.newSession()) {
                    s.appendAll(sequences.get(t));
                } finally {
                    recording.setObserver(null);
                }
                for (int l = 0; l < layers; l++) {
                    for (int h = 0; h < shape.numKvHeads(); h++) {
                        out.get(l).get(h).add(KvHeadSequence.fromLayer(shape, h, q[l], k[l], v[l], length));
                    }
                }
                progress.accept(
                        "recorded q/k/v of text " + (t + 1) + "/" + sequences.size() + " (" + length + " positions)");
            }
        }
        return out;
    }
}
