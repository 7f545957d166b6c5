package io.dijiang4j.plugin.calibration;

/** Next-token KL divergence in float64 for the candidate search (the final numbers come from the Evaluator). */
final class Kl {
    private Kl() {}

    /** log softmax, stabilized by the maximum. */
    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        double logZ = max + Math.log(sum);
        double[] out = new double[logits.length];
        for (int i = 0; i < out.length; i++) out[i] = logits[i] - logZ;
        return out;
    }

    /** KL(p || q) of reference log-probabilities p and candidate logits q, in nats, clamped at 0 against rounding. */
    static double divergence(double[] logP, float[] candidateLogits) {
        double[] logQ = logSoftmax(candidateLogits);
        double kl = 0;
        for (int i = 0; i < logP.length; i++) kl += Math.exp(logP[i]) * (logP[i] - logQ[i]);
        if (!Double.isFinite(kl))
            throw new IllegalStateException("non-finite KL: the candidate's logits are not finite");
        return Math.max(0, kl);
    }
}
