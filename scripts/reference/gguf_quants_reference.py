#!/usr/bin/env python3
"""Writes plugin/src/test/resources/gguf/gguf-py-quants.gguf: for each ggml type the Java reader dequantizes, one
tensor of random blocks (every fp16 scale finite and non-zero) and, beside it as '<name>.expected' (F32), the values
that the `gguf` Python package (llama.cpp's gguf-py, an implementation independent of dijiang4j) dequantizes them to.
Run once, by hand (see plugin/src/test/resources/gguf/README.md):
    /tmp/refvenv/bin/pip install gguf numpy
    /tmp/refvenv/bin/python scripts/reference/gguf_quants_reference.py plugin/src/test/resources/gguf/gguf-py-quants.gguf
"""
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFWriter, GGML_QUANT_SIZES
from gguf.quants import dequantize

TYPES = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
ROWS = 3
rng = np.random.default_rng(20261205)


def random_half(n):
    """Finite, non-zero fp16 values of magnitude in [2^-8, 2^2), random sign, as uint16 bits."""
    exponent = rng.integers(7, 17, n, dtype=np.uint16)
    mantissa = rng.integers(0, 1024, n, dtype=np.uint16)
    sign = rng.integers(0, 2, n, dtype=np.uint16) << 15
    return (sign | (exponent << 10) | mantissa).astype(np.uint16)


def random_blocks(qtype, blocks):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (blocks, type_size), dtype=np.uint8)
    name = qtype.name
    # the fp16 fields: d at 0 (and dmin at 2 for Q4_1, Q5_1, Q4_K, Q5_K); Q3_K and Q6_K keep d in their last two
    # bytes, Q2_K d and dmin in its last four
    halves = {"Q4_0": [0], "Q5_0": [0], "Q8_0": [0], "Q4_1": [0, 2], "Q5_1": [0, 2], "Q4_K": [0, 2], "Q5_K": [0, 2],
              "Q6_K": [type_size - 2], "Q3_K": [type_size - 2], "Q2_K": [type_size - 4, type_size - 2]}.get(name, [])
    for at in halves:
        raw[:, at:at + 2] = random_half(blocks).view(np.uint8).reshape(blocks, 2)
    return raw


def main():
    out = sys.argv[1]
    w = GGUFWriter(out, "test")
    w.add_string("general.description", "random blocks and gguf-py's dequantization of them")
    for name in TYPES:
        qtype = T[name]
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        row = max(block_size, 32) * 2 + (7 if block_size == 1 else 0)   # two blocks per row; odd rows for F16/BF16
        if name == "F16":
            raw = random_half(ROWS * row).view(np.uint8).reshape(ROWS, row * 2)
        elif name == "BF16":
            values = (rng.standard_normal(ROWS * row) * 5).astype(np.float32)
            raw = (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(ROWS, row * 2)
        else:
            raw = random_blocks(qtype, ROWS * row // block_size).reshape(ROWS, row // block_size * type_size)
        expected = dequantize(raw, qtype).astype(np.float32).reshape(ROWS, row)
        w.add_tensor(name.lower(), raw, raw_dtype=qtype)  # raw is [rows, bytes per row]
        w.add_tensor(name.lower() + ".expected", expected)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
