package io.dijiang4j.attention;

/**
 * The fixed-size (in sequence length) state of one attention layer for one sequence: recurrent sums, log offsets,
 * the exact window of the hybrid. Owned by one session; never shared between sequences.
 */
public interface AttentionState {
    /** Number of tokens consumed so far (the absolute position of the next token). */
    long position();

    /** Bytes this state holds (heap or device); constant in {@link #position()} for kernelized methods. */
    long sizeBytes();

    /** Serializes the whole state; {@link AttentionKernel#restore(byte[])} gives back an identical state. */
    byte[] toBytes();

    /** An independent deep copy (a snapshot). */
    AttentionState copy();
}
