package io.dijiang4j.plugin.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a safetensors file tensor by tensor, so a model is never held in memory whole: the header (all shapes, so
 * all offsets) first, then each tensor's data in the declared order. The project's other safetensors writers build
 * small files in memory ({@code calibration.SafetensorsIo}) or write random weights ({@code synth.SyntheticModels}).
 */
final class StreamingSafetensorsWriter implements AutoCloseable {
    /** How weights are stored. */
    enum Precision {
        F32(4),
        BF16(2);

        final int bytes;

        Precision(int bytes) {
            this.bytes = bytes;
        }
    }

    /** One tensor to write: its safetensors name and shape (slowest dimension first). */
    record Entry(String name, long[] shape) {
        long elements() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final FileChannel out;
    private final Precision precision;
    private final List<Entry> entries;
    private int next;

    StreamingSafetensorsWriter(Path file, Precision precision, List<Entry> entries, Map<String, String> metadata)
            throws IOException {
        this.precision = precision;
        this.entries = List.copyOf(entries);
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) header.put("__metadata__", metadata);
        long offset = 0;
        for (Entry e : entries) {
            long bytes = e.elements() * precision.bytes;
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", precision.name());
            info.put("shape", e.shape());
            info.put("data_offsets", new long[] {offset, offset + bytes});
            header.put(e.name(), info);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8; // spaces to a multiple of 8 bytes, as the format recommends
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        this.out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        write(head.flip());
    }

    /** Writes the next tensor's values (row-major); they must match the next entry's element count. */
    void write(float[] values) throws IOException {
        if (next >= entries.size()) throw new IllegalStateException("all " + entries.size() + " tensors written");
        Entry e = entries.get(next);
        if (values.length != e.elements()) {
            throw new IllegalArgumentException(e.name() + ": " + values.length + " values, expected " + e.elements());
        }
        final int chunk = 1 << 20;
        ByteBuffer buf = ByteBuffer.allocate(chunk * precision.bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int start = 0; start < values.length; start += chunk) {
            int end = Math.min(values.length, start + chunk);
            buf.clear();
            if (precision == Precision.F32) {
                for (int i = start; i < end; i++) buf.putFloat(values[i]);
            } else {
                for (int i = start; i < end; i++) buf.putShort(toBf16(values[i]));
            }
            write(buf.flip());
        }
        next++;
    }

    /** float to bfloat16, rounding to nearest even (NaN stays a quiet NaN). */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x0040);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }

    @Override
    public void close() throws IOException {
        try {
            if (next != entries.size()) {
                throw new IllegalStateException(
                        "closed after " + next + " of " + entries.size() + " tensors: the file is incomplete");
            }
            out.force(false);
        } finally {
            out.close();
        }
    }
}
