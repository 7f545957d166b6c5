/** The feature maps of MATH.md section 2 (WDCF, DiJiang-code, Performer i.i.d. and orthogonal, PFF) in one log-domain form, {@link io.dijiang4j.attention.features.ProjectionFeatureMap}, built by {@link io.dijiang4j.attention.features.FeatureMaps}. */
package io.dijiang4j.attention.features;
