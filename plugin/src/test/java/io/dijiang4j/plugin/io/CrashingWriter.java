package io.dijiang4j.plugin.io;

import io.dijiang4j.plugin.DiJiang;
import io.dijiang4j.plugin.DiJiangModel;
import io.dijiang4j.plugin.Session;
import io.dijiang4j.plugin.Stories260K;
import io.dijiang4j.plugin.calibration.Calibration;
import io.dijiang4j.plugin.calibration.CalibrationFile;
import io.dijiang4j.plugin.generation.GenerationOptions;
import io.dijiang4j.plugin.profile.Mode;
import java.nio.file.Path;

/**
 * The child JVM of {@link CrashSafetyTest}: writes one kind of file over and over through the project's own writers
 * ({@code sidecar}: CalibrationFile, {@code snapshot}: Session.snapshotTo, {@code bench}: a JSON benchmark output of
 * a few megabytes) and prints "wrote N" after each write, until it is killed; {@code once} as a third argument
 * writes once and exits.
 */
public final class CrashingWriter {
    private CrashingWriter() {}

    public static void main(String[] args) throws Exception {
        String kind = args[0];
        Path file = Path.of(args[1]);
        boolean once = args.length > 2 && args[2].equals("once");
        switch (kind) {
            case "sidecar" -> {
                Calibration c = CalibrationFile.read(
                        Path.of(args.length > 3 ? args[3] : "../configs/hybrid.calibration.safetensors"));
                for (long n = 0; ; n++) {
                    CalibrationFile.write(file, c);
                    if (report(n, once)) return;
                }
            }
            case "snapshot" -> {
                try (DiJiangModel model = DiJiang.load(Stories260K.profile(Mode.HYBRID));
                        Session session = model.newSession()) {
                    session.generate("Once upon a time", GenerationOptions.greedy(1), piece -> {});
                    for (long n = 0; ; n++) {
                        session.generate(" and", GenerationOptions.greedy(1), piece -> {});
                        session.snapshotTo(file);
                        if (report(n, once)) return;
                    }
                }
            }
            case "bench" -> {
                for (long n = 0; ; n++) {
                    StringBuilder json =
                            new StringBuilder("{\"run\": ").append(n).append(", \"rows\": [");
                    for (int i = 0; i < 100_000; i++)
                        json.append(i == 0 ? "" : ",")
                                .append("{\"ms\": ")
                                .append(i * 0.5 + n)
                                .append('}');
                    json.append("], \"complete\": true}");
                    AtomicFiles.writeString(file, json.toString());
                    if (report(n, once)) return;
                }
            }
            default -> throw new IllegalArgumentException("kind: sidecar, snapshot or bench");
        }
    }

    private static boolean report(long n, boolean once) {
        System.out.println("wrote " + n);
        System.out.flush();
        return once;
    }
}
