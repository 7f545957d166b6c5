/**
 * The project's own matrix products under Jlama (docs/DESIGN.md §4): {@link
 * io.dijiang4j.attention.tensorops.MatrixProducts} is the seam (the CPU kernels here, a device backend later),
 * {@link io.dijiang4j.attention.tensorops.TensorOpsRouter} the {@code TensorOperations} Jlama calls, which sends
 * the products of the weights a model registered to that model's {@code MatrixProducts} and everything else to
 * Jlama's own operations. {@link io.dijiang4j.attention.tensorops.NaiveMatrixProducts} is the float64 twin.
 */
package io.dijiang4j.attention.tensorops;
