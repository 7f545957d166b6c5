package io.dijiang4j.adapters;

/** Receives generated text as it is produced. An exception thrown here stops the generation and propagates. */
@FunctionalInterface
public interface TextSink {
    TextSink NONE = text -> {};

    void accept(String text);
}
