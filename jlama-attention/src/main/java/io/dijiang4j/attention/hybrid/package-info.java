/** The hybrid layer of docs/MATH.md §4: the float64 naive reference. Its chunked and recurrent CPU forms are {@link io.dijiang4j.attention.cpu.CpuHybridKernel}, built from the linear package's block and step. */
package io.dijiang4j.attention.hybrid;
