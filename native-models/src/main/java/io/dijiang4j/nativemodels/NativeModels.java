package io.dijiang4j.nativemodels;

import io.dijiang4j.nativemodels.dijiang.DiJiangNeoXModel;
import io.dijiang4j.nativemodels.mcsd.McsdModel;
import io.dijiang4j.nativemodels.transnormer.TransNormerModel;
import io.dijiang4j.plugin.io.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * Dispatch for checkpoints Jlama 0.8.4 cannot load (its model-type enum is closed): DiJiang (GPT-NeoX with DiJiang
 * attention), TransNormerLLM and MCSD. The architecture comes from config.json: {@code model_type} {@code
 * transnormer} / {@code mcsd}, or {@code gpt_neox} whose {@code auto_map} names a DiJiang module or whose weights
 * hold DiJiang's {@code proj_matrix} (a plain GPT-NeoX is not native).
 */
public final class NativeModels {

    public static final String DIJIANG = "dijiang";
    public static final String TRANSNORMER = "transnormer";
    public static final String MCSD = "mcsd";

    private NativeModels() {}

    /** True when dir holds a checkpoint of one of the native architectures. */
    public static boolean isNative(Path dir) {
        return architectureOf(dir).isPresent();
    }

    /** The native architecture of dir, or empty (not a directory, no config.json, or another model type). */
    public static Optional<String> architectureOf(Path dir) {
        if (!Files.isRegularFile(dir.resolve("config.json"))) return Optional.empty();
        JsonConfig c = JsonConfig.read(dir);
        String type = c.text("model_type", "").toLowerCase(Locale.ROOT);
        String archs = c.has("architectures")
                ? c.root().get("architectures").toString().toLowerCase(Locale.ROOT)
                : "";
        if (type.equals("transnormer") || archs.contains("transnormer")) return Optional.of(TRANSNORMER);
        if (type.equals("mcsd") || archs.contains("mcsd")) return Optional.of(MCSD);
        if (type.equals("gpt_neox") || archs.contains("gptneox")) {
            String autoMap =
                    c.has("auto_map") ? c.root().get("auto_map").toString().toLowerCase(Locale.ROOT) : "";
            if (autoMap.contains("dijiang")) return Optional.of(DIJIANG);
            boolean hasWeights = Files.isRegularFile(dir.resolve("model.safetensors"))
                    || Files.isRegularFile(dir.resolve("model.safetensors.index.json"));
            if (hasWeights
                    && SafeTensors.openModel(dir).has(DiJiangNeoXModel.Names.layer(0, DiJiangNeoXModel.Names.PROJ))) {
                return Optional.of(DIJIANG);
            }
        }
        return Optional.empty();
    }

    /** Loads a native checkpoint; a directory of another kind is a one-line error. */
    public static NativeModel load(Path dir) {
        String arch = architectureOf(dir)
                .orElseThrow(() -> new IllegalArgumentException(dir + " is not a native linear-attention checkpoint "
                        + "(config.json model_type must be transnormer, mcsd, or gpt_neox with DiJiang attention)"));
        return switch (arch) {
            case DIJIANG -> DiJiangNeoXModel.load(dir);
            case TRANSNORMER -> TransNormerModel.load(dir);
            default -> McsdModel.load(dir);
        };
    }
}
