package io.dijiang4j.adapters.spi;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.tensor.KvBufferCache;
import io.dijiang4j.attention.jlama.JlamaInternals;
import java.io.File;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Jlama's KV cache with each request's pages in memory, released when the request ends (Jlama's {@code generate}
 * closes the buffer it took). Jlama 0.8.4 keeps the buffer of every session id for the model's life and writes its
 * pages as files in the working directory that are never deleted (Jlama issue 140, docs/JLAMA.md §4); the
 * langchain4j-jlama models use a new session id per request, so the files pile up. Kernelized layers never touch the
 * pages; only softmax layers get them, for one request.
 */
final class RequestKvCache extends KvBufferCache {
    private RequestKvCache(AbstractModel model) {
        super(model);
    }

    /** A fresh in-memory buffer: every request starts at position 0, as the langchain4j-jlama models expect. */
    @Override
    public KvBuffer getKvBuffer(UUID session) {
        return getEphemeralKvBuffer();
    }

    /**
     * Puts the cache into a loaded model, and removes the empty working directory Jlama made in java.io.tmpdir when
     * the application gave none (nothing is written there any more).
     */
    static void install(AbstractModel model) {
        JlamaInternals.replaceKvBufferCache(model, new RequestKvCache(model));
        model.getConfig().workingDirectory().ifPresent(RequestKvCache::deleteIfJlamaMadeIt);
    }

    /** Jlama's own: an empty directory with a numeric name (Guava's createTempDir) directly in java.io.tmpdir. */
    private static void deleteIfJlamaMadeIt(File dir) {
        Path tmp =
                Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().normalize();
        Path path = dir.toPath().toAbsolutePath().normalize();
        String[] entries = dir.list();
        if (tmp.equals(path.getParent())
                && path.getFileName().toString().matches("\\d+")
                && entries != null
                && entries.length == 0) {
            dir.delete();
        }
    }
}
