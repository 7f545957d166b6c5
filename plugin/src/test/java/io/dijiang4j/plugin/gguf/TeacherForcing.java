package io.dijiang4j.plugin.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import java.util.stream.StreamSupport;

/**
 * Runs a Jlama model along the greedy paths recorded in generation.json (teacher forcing: the recorded token is fed
 * at every step, so one disagreement does not derail the rest) and compares each step's logits with the record.
 */
final class TeacherForcing {
    /** One step: the recorded and Jlama's greedy token, the top-k ids of both, the largest logit difference. */
    record Step(String prompt, int step, int expectedToken, int token, long[] expectedTop, long[] top, double maxDiff) {
        boolean sameTop() {
            return Arrays.equals(expectedTop, top);
        }
    }

    private TeacherForcing() {}

    static List<Step> run(AbstractModel model, JsonNode generation) {
        List<Step> steps = new ArrayList<>();
        for (JsonNode p : generation.path("prompts")) {
            int[] prompt = StreamSupport.stream(p.path("prompt_ids").spliterator(), false)
                    .mapToInt(JsonNode::asInt)
                    .toArray();
            KvBufferCache.KvBuffer kv = new KvBufferCache(model).getEphemeralKvBuffer();
            AbstractTensor out = model.batchForward(prompt, 0, kv);
            int position = prompt.length, index = 0;
            for (JsonNode s : p.path("steps")) {
                float[] logits = lastRowLogits(model, out);
                out.close();
                long[] expectedTop = StreamSupport.stream(s.path("top_ids").spliterator(), false)
                        .mapToLong(JsonNode::asLong)
                        .toArray();
                double maxDiff = 0;
                for (int k = 0; k < expectedTop.length; k++) {
                    double diff = Math.abs(logits[(int) expectedTop[k]]
                            - s.path("top_logits").get(k).asDouble());
                    maxDiff = Math.max(maxDiff, diff);
                }
                long[] top = topK(logits, expectedTop.length);
                int token = s.path("token").asInt();
                steps.add(new Step(p.path("name").asText(), index++, token, (int) top[0], expectedTop, top, maxDiff));
                out = model.forward(token, position++, kv, Optional.empty());
            }
            out.close();
        }
        return steps;
    }

    /** Raw logits of the last row, as Jlama's sampler computes them (final norm, output head). */
    private static float[] lastRowLogits(AbstractModel model, AbstractTensor out) {
        int vocab = model.getConfig().vocabularySize;
        AbstractTensor last =
                out.shape().first() == 1 ? out : out.slice(out.shape().first() - 1);
        try (AbstractTensor logits = model.makeDenseTensor(1, vocab)) {
            model.sample(last, 0f, 0f, logits);
            float[] r = new float[vocab];
            for (int i = 0; i < vocab; i++) r[i] = logits.get(0, i);
            return r;
        }
    }

    /** The ids of the k largest values, largest first (ties: lower id first). */
    private static long[] topK(float[] v, int k) {
        return IntStream.range(0, v.length)
                .boxed()
                .sorted((a, b) -> v[a] != v[b] ? Float.compare(v[b], v[a]) : Integer.compare(a, b))
                .limit(k)
                .mapToLong(Integer::longValue)
                .toArray();
    }
}
