/** The feature maps of docs/MATH.md §3 (WDCF, DiJiang-code, Performer i.i.d. and orthogonal, PFF) in one log-domain form, {@link io.dijiang4j.attention.features.ProjectionFeatureMap}, built by {@link io.dijiang4j.attention.features.FeatureMaps}. */
package io.dijiang4j.attention.features;
