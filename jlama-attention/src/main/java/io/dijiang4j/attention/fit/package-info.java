/**
 * Training-free calibration of the hybrid layer's memory (docs/MATH.md §5), in float64, one KV head at a
 * time, from post-RoPE, unscaled q/k/v rows of the original model:
 *
 * <pre>{@code
 * List<KvHeadSequence> rows = ...;                 // KvHeadSequence.fromLayer(shape, kvHead, q, k, v, length) each
 * FitSettings settings = FitSettings.of(tau, sinks, window);
 * FeatureMap base = MemoryFit.fitCentroids(MemoryFit.keysOf(rows, sinks), 64, tau, seed); // or FeatureMaps.create
 * MemoryFit.Result fit = MemoryFit.fitWeights(base, rows, settings);   // NNLS kernel weights (Lawson-Hanson)
 * FeatureMap map = fit.apply(base);                                    // this KV head's map
 * GainSearch.HeadGain[] gains = GainSearch.search(map, rows, settings); // g_h per query head of the group
 * }</pre>
 *
 * then {@code AttentionSpec.withKvHeadMaps(maps).withMemoryGain(g)}. Building blocks: {@link
 * io.dijiang4j.attention.fit.Nnls} (non-negative least squares), {@link io.dijiang4j.attention.fit.KMeans}
 * (k-means++, seeded). Everything is deterministic for its seed.
 */
package io.dijiang4j.attention.fit;
