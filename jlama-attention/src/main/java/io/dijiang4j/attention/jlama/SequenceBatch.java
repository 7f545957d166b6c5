package io.dijiang4j.attention.jlama;

import com.github.tjake.jlama.tensor.KvBufferCache;
import java.util.Arrays;

/**
 * Several sequences in one Jlama forward pass: the rows of the pass are runs of consecutive tokens (segments), each
 * the continuation of one sequence at its own position. Jlama passes one {@code KvBuffer} and one start position to
 * every layer; for a batched pass it gets this batch's {@link #marker()} buffer, and a {@link KernelizedAttention}
 * the batch is attached to ({@link KernelizedAttention#attach}) reads the segments from here: it projects all rows
 * at once and runs each segment's attention on that sequence's own state (docs/DESIGN.md §5).
 *
 * <p>Only kernelized layers understand a batch: Jlama's softmax layer would take the rows for consecutive positions
 * of the marker's sequence, so a model with softmax layers must not run a batched pass.
 *
 * <p>Not thread-safe: filled ({@link #set}) and read under the model's lock, one forward pass at a time.
 */
public final class SequenceBatch {
    private final KvBufferCache.KvBuffer marker;
    private KvBufferCache.KvBuffer[] sequences = new KvBufferCache.KvBuffer[0];
    private int[] starts = new int[0];
    private int[] lengths = new int[0];
    private int rows;

    /** @param marker a buffer that belongs to no sequence, passed to Jlama for the batched pass */
    public SequenceBatch(KvBufferCache.KvBuffer marker) {
        this.marker = marker;
    }

    public KvBufferCache.KvBuffer marker() {
        return marker;
    }

    /**
     * The segments of the next pass, in row order: segment i is {@code lengths[i]} tokens of the sequence whose
     * buffer is {@code sequences[i]}, starting at position {@code starts[i]}. A sequence appears at most once.
     */
    public void set(KvBufferCache.KvBuffer[] sequences, int[] starts, int[] lengths) {
        if (sequences.length != starts.length || sequences.length != lengths.length || sequences.length == 0) {
            throw new IllegalArgumentException("a batch needs one start and one length per sequence, and a sequence");
        }
        int total = 0;
        for (int i = 0; i < lengths.length; i++) {
            if (lengths[i] < 1) throw new IllegalArgumentException("segment " + i + " has no tokens");
            if (starts[i] < 0) throw new IllegalArgumentException("segment " + i + " starts at " + starts[i]);
            for (int j = 0; j < i; j++) {
                if (sequences[j] == sequences[i]) {
                    throw new IllegalArgumentException("segments " + j + " and " + i + " are the same sequence");
                }
            }
            total = Math.addExact(total, lengths[i]);
        }
        this.sequences = sequences.clone();
        this.starts = starts.clone();
        this.lengths = lengths.clone();
        this.rows = total;
    }

    public int segments() {
        return sequences.length;
    }

    /** Rows of the pass: the segments' lengths summed. */
    public int rows() {
        return rows;
    }

    public KvBufferCache.KvBuffer sequence(int segment) {
        return sequences[segment];
    }

    public int start(int segment) {
        return starts[segment];
    }

    public int length(int segment) {
        return lengths[segment];
    }

    @Override
    public String toString() {
        return "SequenceBatch[starts " + Arrays.toString(starts) + ", lengths " + Arrays.toString(lengths) + "]";
    }
}
