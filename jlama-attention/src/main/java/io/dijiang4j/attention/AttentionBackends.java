package io.dijiang4j.attention;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeSet;

/**
 * Picks the {@link AttentionKernelProvider} named by a profile's {@code backend:} key, among the providers found
 * through {@link ServiceLoader}:
 *
 * <ul>
 *   <li>{@code auto}: {@code cuda} when its provider is on the class path and says it is available (driver loads,
 *       device found), else {@code cpu}, with one INFO log line saying why;
 *   <li>{@code cpu}: the CPU kernels;
 *   <li>{@code cuda}: the GPU kernels, or an {@link IllegalStateException} saying why they cannot run here;
 *   <li>any other name: the provider of that name, if one is registered.
 * </ul>
 *
 * A provider that cannot even be loaded (the gpu jar on a JDK without final java.lang.foreign: its classes are
 * compiled for Java 22) is skipped and the reason kept, so {@code auto} degrades to the CPU instead of failing.
 */
public final class AttentionBackends {
    public static final String AUTO = "auto";
    public static final String CPU = "cpu";
    public static final String CUDA = "cuda";

    private static final System.Logger LOG = System.getLogger(AttentionBackends.class.getName());
    /** Fallback reasons already logged: a process that installs many models (calibration, eval) says each once. */
    private static final java.util.Set<String> LOGGED_FALLBACKS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private AttentionBackends() {}

    /** The providers on the class path, and one message per provider that failed to load. */
    public record Discovery(List<AttentionKernelProvider> providers, List<String> loadFailures) {
        public Discovery {
            providers = List.copyOf(providers);
            loadFailures = List.copyOf(loadFailures);
        }
    }

    /** The chosen provider and, when {@code auto} fell back to the CPU, why. */
    public record Selection(AttentionKernelProvider provider, Optional<String> fallbackReason) {}

    /** Resolves {@code backend} against the providers on the class path; logs the fallback of {@code auto}. */
    public static AttentionKernelProvider select(String backend) {
        return select(backend, discover());
    }

    static AttentionKernelProvider select(String backend, Discovery discovery) {
        Selection selection = resolve(backend, discovery);
        selection
                .fallbackReason()
                .filter(LOGGED_FALLBACKS::add)
                .ifPresent(
                        reason -> LOG.log(System.Logger.Level.INFO, "attention backend auto: using cpu ({0})", reason));
        return selection.provider();
    }

    /**
     * {@link #select(String)} for layers of {@code spec}: when the chosen backend does not implement something the
     * spec asks for (the cuda kernels: the exact cache, per-KV-head feature maps), the CPU provider, with one INFO
     * log line saying why.
     */
    public static AttentionKernelProvider select(String backend, AttentionSpec spec) {
        return select(backend, spec, discover());
    }

    static AttentionKernelProvider select(String backend, AttentionSpec spec, Discovery discovery) {
        AttentionKernelProvider provider = select(backend, discovery);
        Optional<String> unsupported = provider.unsupportedReason(spec);
        if (unsupported.isEmpty()) return provider;
        LOG.log(System.Logger.Level.INFO, "attention backend {0}: using cpu ({1})", provider.name(), unsupported.get());
        return require(discovery, CPU);
    }

    /** Like {@link #select(String)} but returns the fallback reason instead of logging it. */
    public static Selection resolve(String backend, Discovery discovery) {
        if (backend == null || backend.isBlank()) {
            throw new IllegalArgumentException("backend must be one of auto, cpu, cuda (got an empty value)");
        }
        String name = backend.strip().toLowerCase(Locale.ROOT);
        if (name.equals(AUTO)) {
            Optional<AttentionKernelProvider> cuda = find(discovery, CUDA);
            String reason;
            if (cuda.isPresent()) {
                Optional<String> unavailable = unavailability(cuda.get());
                if (unavailable.isEmpty()) return new Selection(cuda.get(), Optional.empty());
                reason = "cuda unavailable: " + unavailable.get();
            } else {
                reason = "cuda unavailable: " + missingReason(discovery, CUDA);
            }
            return new Selection(require(discovery, CPU), Optional.of(reason));
        }
        AttentionKernelProvider provider = require(discovery, name);
        Optional<String> unavailable = unavailability(provider);
        if (unavailable.isPresent()) {
            throw new IllegalStateException(
                    "attention backend " + name + " is not available here: " + unavailable.get());
        }
        return new Selection(provider, Optional.empty());
    }

    /** Loads every registered provider, keeping the load errors of the ones that cannot be loaded. */
    public static Discovery discover() {
        return discover(AttentionBackends.class.getClassLoader());
    }

    /** {@link #discover()} on the providers {@code loader} sees. */
    public static Discovery discover(ClassLoader loaderOfProviders) {
        List<AttentionKernelProvider> providers = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        ServiceLoader<AttentionKernelProvider> loader =
                ServiceLoader.load(AttentionKernelProvider.class, loaderOfProviders);
        var iterator = loader.iterator();
        while (true) {
            try {
                if (!iterator.hasNext()) break;
                providers.add(iterator.next());
            } catch (ServiceConfigurationError | LinkageError e) {
                failures.add(rootMessage(e));
            }
        }
        return new Discovery(providers, failures);
    }

    private static Optional<AttentionKernelProvider> find(Discovery discovery, String name) {
        return discovery.providers().stream()
                .filter(p -> p.name().equalsIgnoreCase(name))
                .findFirst();
    }

    private static AttentionKernelProvider require(Discovery discovery, String name) {
        return find(discovery, name).orElseThrow(() -> {
            if (name.equals(CPU) || name.equals(CUDA)) {
                return new IllegalStateException(
                        "attention backend " + name + " is not available here: " + missingReason(discovery, name));
            }
            TreeSet<String> known = new TreeSet<>(List.of(AUTO, CPU, CUDA));
            discovery.providers().forEach(p -> known.add(p.name()));
            return new IllegalArgumentException(
                    "unknown attention backend '" + name + "' (known: " + String.join(", ", known) + ")");
        });
    }

    private static String missingReason(Discovery discovery, String name) {
        String where = name.equals(CUDA)
                ? "the gpu module (io.dijiang4j:gpu) is not on the class path"
                : "no provider named " + name + " is registered";
        if (discovery.loadFailures().isEmpty()) return where;
        return where + "; providers that failed to load: " + String.join("; ", discovery.loadFailures());
    }

    private static Optional<String> unavailability(AttentionKernelProvider provider) {
        try {
            if (provider.isAvailable()) return Optional.empty();
            return Optional.of(provider.unavailableReason().orElse("the provider reports it cannot run here"));
        } catch (RuntimeException | LinkageError e) {
            return Optional.of("availability check failed: " + rootMessage(e));
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        String message = root.getMessage();
        return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
