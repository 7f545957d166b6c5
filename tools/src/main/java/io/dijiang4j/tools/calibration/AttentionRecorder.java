package io.dijiang4j.tools.calibration;

import io.dijiang4j.attention.AttentionShape;
import io.dijiang4j.attention.fit.KvHeadSequence;
import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.io.AtomicFiles;
import io.dijiang4j.plugin.profile.CalibrationChoice;
import io.dijiang4j.plugin.profile.FeatureMapKind;
import io.dijiang4j.plugin.profile.LayerSelection;
import io.dijiang4j.plugin.profile.Mode;
import io.dijiang4j.plugin.profile.Profile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Records, in one teacher-forced pass over the calibration texts, what the calibration needs of every layer: the
 * original model's post-RoPE queries, keys and values and its attention output (softmax, before the output
 * projection), without changing Jlama: every layer runs the hybrid with no sinks and a window longer than any text,
 * which equals softmax attention exactly (the memory never receives a token), and an observer copies what each
 * layer computes. The recording streams to one scratch file per layer (float32, text after text: q, k, v, out), so
 * only one text of every layer is in memory while recording and one layer while fitting ({@link Recording#layer}).
 * The same pass gives the next-token logits of the first texts (every layer exact: the original model's), which the
 * sensitivity and the closing evaluation compare to instead of running the original model again.
 */
final class AttentionRecorder {
    private AttentionRecorder() {}

    /** The rows of one layer: per text, q and out {@code [length][queryWidth]}, k and v {@code [length][kvWidth]}. */
    record LayerRows(AttentionShape shape, List<float[]> q, List<float[]> k, List<float[]> v, List<float[]> out) {
        int texts() {
            return q.size();
        }

        int length(int text) {
            return q.get(text).length / shape.queryWidth();
        }

        long positions() {
            long n = 0;
            for (int t = 0; t < texts(); t++) n += length(t);
            return n;
        }

        /** The first {@code count} texts (all of them when {@code count} is 0 or at least their number). */
        LayerRows first(int count) {
            if (count <= 0 || count >= texts()) return this;
            return new LayerRows(
                    shape, q.subList(0, count), k.subList(0, count), v.subList(0, count), out.subList(0, count));
        }

        /** One {@link KvHeadSequence} per text for KV head {@code kvHead} (values and softmax outputs included). */
        List<KvHeadSequence> kvHead(int kvHead) {
            List<KvHeadSequence> out = new ArrayList<>();
            for (int t = 0; t < texts(); t++) {
                out.add(KvHeadSequence.fromLayer(
                        shape, kvHead, q.get(t), k.get(t), v.get(t), this.out.get(t), length(t)));
            }
            return out;
        }
    }

    /**
     * A recording on disk: one file per layer in {@code dir}, the texts' lengths in order, and in memory the logits at
     * every position of the first {@code logits.size()} texts (the original model's: every layer exact).
     */
    record Recording(Path dir, AttentionShape shape, int layers, int[] lengths, List<float[][]> logits) {
        private Path file(int layer) {
            return dir.resolve("layer-" + layer + ".f32");
        }

        /** Reads layer {@code layer} back. */
        LayerRows layer(int layer) {
            List<float[]> q = new ArrayList<>(), k = new ArrayList<>(), v = new ArrayList<>(), o = new ArrayList<>();
            try (FileChannel in = FileChannel.open(file(layer), StandardOpenOption.READ)) {
                for (int length : lengths) {
                    q.add(read(in, length * shape.queryWidth()));
                    k.add(read(in, length * shape.kvWidth()));
                    v.add(read(in, length * shape.kvWidth()));
                    o.add(read(in, length * shape.queryWidth()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the calibration recording of layer " + layer, e);
            }
            return new LayerRows(shape, q, k, v, o);
        }

        private static float[] read(FileChannel in, int floats) throws IOException {
            ByteBuffer buffer = ByteBuffer.allocate(floats * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (buffer.hasRemaining()) {
                if (in.read(buffer) < 0) throw new IOException("the recording ends early");
            }
            buffer.flip();
            float[] out = new float[floats];
            buffer.asFloatBuffer().get(out);
            return out;
        }
    }

    /**
     * {@code profile}'s model with every layer the hybrid of no sinks and a window of {@code positions}: softmax
     * attention computed by the plugin's kernels for sequences of at most that many positions (no token leaves the
     * window, so no memory), on which sessions run batched ({@link DiJiangModel#advance}).
     */
    static Profile exactProfile(Profile profile, int positions) {
        return profile.withMode(Mode.HYBRID)
                .withLayers(LayerSelection.all())
                .withHybrid(0, positions)
                .withExactCache(0, profile.cachePolicy())
                .withFeatures(FeatureMapKind.NONE, 1)
                .withCalibration(CalibrationChoice.NONE);
    }

    /**
     * Records every layer of {@code sequences} into {@code dir} (which must exist, a scratch directory).
     *
     * @param vanilla a model with Jlama's softmax attention on every layer (the hybrid is installed into it for the
     *     recording and removed afterwards)
     * @param profile the profile (model, block size; mode and map are replaced for the recording)
     * @param sequences token ids fed as they are (BOS first)
     * @param logitTexts keep the logits at every position of the first this many texts ({@link Recording#logits});
     *     the other texts compute only their last position's
     */
    static Recording record(
            DiJiangModel vanilla,
            Profile profile,
            List<int[]> sequences,
            int logitTexts,
            Path dir,
            Consumer<String> progress) {
        var c = vanilla.config();
        int longest = sequences.stream().mapToInt(s -> s.length).max().orElse(1);
        Profile fullWindow = exactProfile(profile, longest);
        AttentionShape shape = new AttentionShape(c.numberOfHeads, c.numberOfKeyValueHeads, c.headSize);
        int layers = c.numberOfLayers;
        List<float[][]> logits = new ArrayList<>();
        Recording recording = new Recording(
                dir, shape, layers, sequences.stream().mapToInt(s -> s.length).toArray(), logits);
        FileChannel[] files = new FileChannel[layers];
        try (DiJiangModel recorder = DiJiang.install(vanilla.jlama(), fullWindow)) {
            for (int l = 0; l < layers; l++) {
                files[l] = FileChannel.open(
                        recording.file(l),
                        StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING);
            }
            long bytes = 0;
            for (int t = 0; t < sequences.size(); t++) {
                int length = sequences.get(t).length;
                float[][] q = new float[layers][length * shape.queryWidth()];
                float[][] k = new float[layers][length * shape.kvWidth()];
                float[][] v = new float[layers][length * shape.kvWidth()];
                float[][] o = new float[layers][length * shape.queryWidth()];
                recorder.setObserver((layer, start, rows, qs, ks, vs, out) -> {
                    int p = Math.toIntExact(start);
                    System.arraycopy(qs, 0, q[layer], p * shape.queryWidth(), rows * shape.queryWidth());
                    System.arraycopy(ks, 0, k[layer], p * shape.kvWidth(), rows * shape.kvWidth());
                    System.arraycopy(vs, 0, v[layer], p * shape.kvWidth(), rows * shape.kvWidth());
                    System.arraycopy(out, 0, o[layer], p * shape.queryWidth(), rows * shape.queryWidth());
                });
                try (Session s = recorder.newSession()) {
                    if (t < logitTexts) logits.add(s.appendAll(sequences.get(t)));
                    else s.append(sequences.get(t));
                } finally {
                    recorder.setObserver(null);
                }
                for (int l = 0; l < layers; l++) {
                    for (float[] part : new float[][] {q[l], k[l], v[l], o[l]}) {
                        write(files[l], part);
                        bytes += (long) part.length * Float.BYTES;
                    }
                }
                progress.accept(String.format(
                        java.util.Locale.ROOT,
                        "recorded q/k/v/out of text %d/%d (%d positions, %.1f MB on disk)",
                        t + 1,
                        sequences.size(),
                        length,
                        bytes / 1e6));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the calibration recording in " + dir, e);
        } finally {
            for (FileChannel f : files) {
                try {
                    if (f != null) f.close();
                } catch (IOException ignored) {
                    // scratch file
                }
            }
        }
        return recording;
    }

    private static void write(FileChannel file, float[] data) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(data.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(data);
        AtomicFiles.writeFully(file, buffer);
    }
}
