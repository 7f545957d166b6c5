/** The orthonormal DCT-II: the explicit matrix and the fast transform (JTransforms). */
package io.dijiang4j.attention.dct;
