/** Vector API primitives (GEMM, dot, axpy, shifted exp) with scalar tails for any length. */
package io.dijiang4j.attention.simd;
