/**
 * The attention methods' math, laid out as flash-linear-attention lays out {@code ops/<method>/{naive, chunk,
 * fused_recurrent}}: per method a package with its float64 naive reference and its chunked and recurrent forms under
 * parallel names. Backends ({@code cpu}, the gpu module) keep scheduling, workspaces and state layout, and call these.
 */
package io.dijiang4j.attention.ops;
