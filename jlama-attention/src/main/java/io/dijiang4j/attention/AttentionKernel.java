package io.dijiang4j.attention;

/**
 * One attention method bound to a layer shape, a feature map and its parameters. Stateless itself: everything
 * about the sequence lives in the {@link AttentionState} it creates, so one kernel serves many sessions.
 *
 * <p>Row-major float layouts, one row per token: {@code q} and {@code out} are {@code [length][numHeads*headDim]},
 * {@code k} and {@code v} are {@code [length][numKvHeads*headDim]}. Queries and keys arrive after RoPE and unscaled;
 * the kernel applies its own scale ({@link AttentionSpec#scale()}).
 */
public interface AttentionKernel extends AutoCloseable {
    AttentionShape shape();

    AttentionSpec spec();

    AttentionState newState();

    /** Rebuilds a state from {@link AttentionState#toBytes()}; rejects bytes of another shape or spec. */
    AttentionState restore(byte[] bytes);

    /**
     * Causal attention of {@code length} consecutive tokens that follow the tokens already in {@code state}, which
     * it then advances. {@code length > 1} runs the chunked (prefill) form, {@code length == 1} the recurrent
     * (decode) form; both give the same result as the naive form over the whole sequence.
     */
    void forward(AttentionState state, float[] q, float[] k, float[] v, float[] out, int length);

    /**
     * Whether {@link #forward} may run on several threads at once for distinct states (the sessions of one batched
     * pass). False unless the implementation says so: a device kernel's context and streams may be one per thread.
     */
    default boolean concurrentStates() {
        return false;
    }

    /** Which implementation runs this kernel, for logs: "cpu", "cuda:0", ... */
    default String backend() {
        return "cpu";
    }

    @Override
    default void close() {}
}
