package io.dijiang4j.nativemodels;

import io.dijiang4j.plugin.generation.TokenCodec;
import java.util.Optional;

/** A natively supported linear-attention checkpoint, loaded by {@link NativeModels#load}. */
public interface NativeModel {

    /** The architecture key: {@code dijiang}, {@code transnormer} or {@code mcsd}. */
    String architecture();

    int vocabSize();

    NativeSession newSession();

    /** The tokenizer of the checkpoint directory, if it has a {@code tokenizer.json}. */
    Optional<TokenCodec> tokenizer();
}
