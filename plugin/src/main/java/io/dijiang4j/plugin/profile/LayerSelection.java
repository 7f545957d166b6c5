package io.dijiang4j.plugin.profile;

import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Which layers the profile's mode applies to: all, only the listed ones, or all but the listed ones. The rest keep
 * Jlama's softmax attention.
 */
public record LayerSelection(Kind kind, List<Integer> layers) {
    public enum Kind {
        ALL,
        ONLY,
        ALL_BUT
    }

    public LayerSelection {
        layers = List.copyOf(layers);
    }

    public static LayerSelection all() {
        return new LayerSelection(Kind.ALL, List.of());
    }

    public static LayerSelection only(List<Integer> layers) {
        return new LayerSelection(Kind.ONLY, layers);
    }

    public static LayerSelection allBut(List<Integer> layers) {
        return new LayerSelection(Kind.ALL_BUT, layers);
    }

    /** The selected layer indices of a model with {@code numberOfLayers} layers. */
    public SortedSet<Integer> resolve(int numberOfLayers) {
        for (int layer : layers) {
            if (layer < 0 || layer >= numberOfLayers) {
                throw new IllegalArgumentException(
                        "layer index " + layer + " out of range: the model has layers 0.." + (numberOfLayers - 1));
            }
        }
        TreeSet<Integer> chosen = new TreeSet<>();
        switch (kind) {
            case ALL -> {
                for (int i = 0; i < numberOfLayers; i++) chosen.add(i);
            }
            case ONLY -> chosen.addAll(layers);
            case ALL_BUT -> {
                for (int i = 0; i < numberOfLayers; i++) if (!layers.contains(i)) chosen.add(i);
            }
        }
        return chosen;
    }
}
