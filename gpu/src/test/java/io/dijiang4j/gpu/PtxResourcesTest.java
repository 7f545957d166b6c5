package io.dijiang4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The committed PTX matches what the Java side launches, and is not older than the CUDA sources. */
class PtxResourcesTest {
    private static final Pattern ENTRY = Pattern.compile("\\.visible\\s+\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+(\\.\\w+)\\s+\\w+");
    private static final Pattern TARGET = Pattern.compile("^\\.target\\s+sm_(\\d+)", Pattern.MULTILINE);
    private static final Path CUDA_SOURCES = Path.of("src/main/cuda");
    private static final Path PTX_RESOURCES = Path.of("src/main/resources/io/dijiang4j/gpu");

    /** Architectures the sm_80 PTX is JIT-compiled for on the GPUs this project targets (A100, H100). */
    private static final int[] ASSEMBLED_FOR = {80, 90};

    private static String resource(String path) throws IOException {
        try (InputStream in = PtxResourcesTest.class.getResourceAsStream(path)) {
            assertNotNull(in, "missing resource " + path);
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    /** Entry name to its parameter types, in order. */
    static Map<String, List<String>> entries(String ptx) {
        Map<String, List<String>> entries = new LinkedHashMap<>();
        Matcher m = ENTRY.matcher(ptx);
        while (m.find()) {
            List<String> types = new ArrayList<>();
            Matcher p = PARAM.matcher(m.group(2));
            while (p.find()) types.add(p.group(1));
            entries.put(m.group(1), types);
        }
        return entries;
    }

    private static Set<String> modules() {
        Set<String> modules = new TreeSet<>();
        for (CudaKernelFunction f : CudaKernelFunction.values()) modules.add(f.module());
        return modules;
    }

    @Test
    void everyLaunchedKernelIsAnEntryWithTheParametersTheJavaSidePasses() throws IOException {
        for (CudaKernelFunction f : CudaKernelFunction.values()) {
            String ptx = resource(CudaKernelFunction.ptxResource(f.module()));
            Matcher target = TARGET.matcher(ptx);
            assertTrue(target.find(), "no .target in " + CudaKernelFunction.ptxFileName(f.module()));
            assertEquals(String.valueOf(CudaKernelFunction.PTX_ARCHITECTURE), target.group(1));
            List<String> types = entries(ptx).get(f.entry());
            assertNotNull(types, f.entry() + " is not an .entry of " + CudaKernelFunction.ptxFileName(f.module()));
            List<String> expected = f.signature()
                    .chars()
                    .mapToObj(c -> CudaKernelFunction.ptxType((char) c))
                    .toList();
            assertEquals(expected, types, "parameters of " + f.entry());
        }
    }

    @Test
    void everyCompiledEntryIsLaunchedFromJava() throws IOException {
        Set<String> launched = new TreeSet<>();
        for (CudaKernelFunction f : CudaKernelFunction.values()) launched.add(f.entry());
        Set<String> compiled = new TreeSet<>();
        for (String module : modules()) {
            compiled.addAll(
                    entries(resource(CudaKernelFunction.ptxResource(module))).keySet());
        }
        assertEquals(launched, compiled);
    }

    /** One PTX per module (the driver JIT-compiles it for newer devices), plus the sources' fingerprint. */
    @Test
    void resourcesHoldOnePtxPerModuleAndTheFingerprint() throws IOException {
        Set<String> expected = new TreeSet<>(Set.of("sources.sha256"));
        for (String module : modules()) expected.add(CudaKernelFunction.ptxFileName(module));
        assertEquals(expected, fileNames(PTX_RESOURCES));
    }

    @Test
    void committedPtxStaysSmall() throws IOException {
        long total = 0;
        for (String module : modules())
            total += resource(CudaKernelFunction.ptxResource(module)).length();
        assertTrue(total > 0 && total < 1 << 19, "PTX total " + total + " bytes");
    }

    /** Without nvcc: the fingerprint build-ptx.sh wrote must match the sources, else the PTX is stale. */
    @Test
    void ptxWasGeneratedFromTheCurrentCudaSources() throws Exception {
        Map<String, String> recorded = new TreeMap<>();
        for (String line : resource("/io/dijiang4j/gpu/sources.sha256").split("\n")) {
            if (line.isBlank()) continue;
            String[] parts = line.trim().split("\\s+");
            recorded.put(parts[1], parts[0]);
        }
        Map<String, String> current = new TreeMap<>();
        try (Stream<Path> files = Files.list(CUDA_SOURCES)) {
            for (Path p : files.filter(
                            p -> p.toString().endsWith(".cu") || p.toString().endsWith(".cuh"))
                    .toList()) {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                current.put(p.getFileName().toString(), HexFormat.of().formatHex(digest));
            }
        }
        assertEquals(recorded, current, "CUDA sources changed since the PTX was generated: run gpu/build-ptx.sh");
    }

    /** With nvcc (the same release that generated it): regenerating gives the committed bytes. */
    @Test
    void regeneratedPtxEqualsTheCommittedPtxWhenNvccIsPresent() throws Exception {
        String nvcc = findNvcc();
        assumeTrue(nvcc != null, "nvcc not found: PTX regeneration check skipped");
        Path out = Files.createTempDirectory("ptx-check");
        try {
            ProcessBuilder pb = new ProcessBuilder("bash", "build-ptx.sh").redirectErrorStream(true);
            pb.environment().put("PTX_OUT", out.toString());
            pb.environment().put("NVCC", nvcc);
            Process p = pb.start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, log);
            assertEquals(fileNames(PTX_RESOURCES), fileNames(out), "files build-ptx.sh writes");
            for (String module : modules()) {
                String name = CudaKernelFunction.ptxFileName(module);
                String committed = resource(CudaKernelFunction.ptxResource(module));
                String fresh = Files.readString(out.resolve(name));
                assumeTrue(
                        compilerLine(committed).equals(compilerLine(fresh)),
                        "a different nvcc release than the one that generated the PTX");
                assertEquals(committed, fresh, name + " is stale: run gpu/build-ptx.sh");
            }
        } finally {
            try (Stream<Path> files = Files.list(out)) {
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(out);
        }
    }

    /**
     * With ptxas: every entry assembles for each architecture the driver will JIT it for, without spills, in
     * registers its block size allows.
     */
    @Test
    void ptxAssemblesWithoutSpillsForTheLaunchedBlockSizesWhenPtxasIsPresent() throws Exception {
        String nvcc = findNvcc();
        Path ptxas = nvcc == null ? null : Path.of(nvcc).resolveSibling("ptxas");
        assumeTrue(ptxas != null && Files.isExecutable(ptxas), "ptxas not found: PTX assembly check skipped");
        Pattern entry = Pattern.compile("Compiling entry function '(\\w+)' for 'sm_(\\d+)'");
        Pattern spills = Pattern.compile("(\\d+) bytes spill stores");
        Pattern registers = Pattern.compile("Used (\\d+) registers");
        Path dir = Files.createTempDirectory("ptxas-check");
        try {
            Set<String> checked = new TreeSet<>();
            for (String module : modules()) {
                Path ptx = dir.resolve(CudaKernelFunction.ptxFileName(module));
                Files.writeString(ptx, resource(CudaKernelFunction.ptxResource(module)));
                for (int arch : ASSEMBLED_FOR) {
                    Process p = new ProcessBuilder(
                                    ptxas.toString(),
                                    "-arch=sm_" + arch,
                                    "-v",
                                    ptx.toString(),
                                    "-o",
                                    dir.resolve("out.cubin").toString())
                            .redirectErrorStream(true)
                            .start();
                    String log = new String(p.getInputStream().readAllBytes());
                    assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, log);
                    String current = null;
                    for (String line : log.split("\n")) {
                        Matcher e = entry.matcher(line);
                        if (e.find()) current = e.group(1);
                        Matcher s = spills.matcher(line);
                        if (s.find()) assertEquals("0", s.group(1), current + " spills on sm_" + arch + ":\n" + log);
                        Matcher r = registers.matcher(line);
                        if (r.find() && current != null) {
                            int used = Integer.parseInt(r.group(1));
                            CudaKernelFunction f = byEntry(current);
                            assertTrue(
                                    used * f.blockThreads() <= 65536,
                                    current + ": " + used + " registers x " + f.blockThreads() + " threads");
                            checked.add(current + "@" + arch);
                        }
                    }
                }
            }
            assertEquals(CudaKernelFunction.values().length * ASSEMBLED_FOR.length, checked.size());
        } finally {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        }
    }

    private static Set<String> fileNames(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static CudaKernelFunction byEntry(String entry) {
        for (CudaKernelFunction f : CudaKernelFunction.values()) {
            if (f.entry().equals(entry)) return f;
        }
        throw new AssertionError("PTX entry " + entry + " is not launched from Java");
    }

    private static String compilerLine(String ptx) {
        return ptx.lines()
                .filter(l -> l.startsWith("// Cuda compilation tools"))
                .findFirst()
                .orElse("");
    }

    private static String findNvcc() {
        for (String candidate : new String[] {System.getenv("NVCC"), "/usr/local/cuda/bin/nvcc"}) {
            if (candidate != null && Files.isExecutable(Path.of(candidate))) return candidate;
        }
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String dir : path.split(":")) {
            Path p = Path.of(dir, "nvcc");
            if (Files.isExecutable(p)) return p.toString();
        }
        return null;
    }
}
