package io.dijiang4j.plugin.generation;

import java.util.List;
import java.util.function.Consumer;

/**
 * Accumulates generated text, cuts it before the first stop sequence, and forwards to the sink only text that can no
 * longer turn out to be the start of a stop sequence.
 */
final class StopSequenceFilter {
    private final List<String> stops;
    private final int longestStop;
    private final Consumer<String> sink;
    private final StringBuilder text = new StringBuilder();
    private int emitted;

    StopSequenceFilter(List<String> stops, Consumer<String> sink) {
        this.stops = stops;
        this.longestStop = stops.stream().mapToInt(String::length).max().orElse(0);
        this.sink = sink;
    }

    /** Adds a token's text; true when a stop sequence appeared (the text is then cut before it). */
    boolean append(String piece) {
        if (piece.isEmpty()) {
            return false;
        }
        int searchFrom = Math.max(0, text.length() - longestStop + 1);
        text.append(piece);
        if (!stops.isEmpty()) {
            int cut = -1;
            for (String stop : stops) {
                int at = text.indexOf(stop, searchFrom);
                if (at >= 0 && (cut < 0 || at < cut)) {
                    cut = at;
                }
            }
            if (cut >= 0) {
                text.setLength(cut);
                emit(text.length());
                return true;
            }
        }
        emit(text.length() - heldBack());
        return false;
    }

    /** Sends whatever is still held back (generation ended without a stop sequence). */
    void finish() {
        emit(text.length());
    }

    String text() {
        return text.toString();
    }

    /** Length of the longest suffix of the text that is a proper prefix of a stop sequence. */
    private int heldBack() {
        int best = 0;
        for (String stop : stops) {
            for (int length = Math.min(stop.length() - 1, text.length()); length > best; length--) {
                if (endsWith(stop, length)) {
                    best = length;
                    break;
                }
            }
        }
        return best;
    }

    private boolean endsWith(String stop, int length) {
        int offset = text.length() - length;
        for (int i = 0; i < length; i++) {
            if (text.charAt(offset + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private void emit(int end) {
        if (end > emitted) {
            String piece = text.substring(emitted, end);
            emitted = end;
            sink.accept(piece);
        }
    }
}
