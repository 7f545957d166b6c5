/** Sampling: scrambled Halton points (quasi-Monte Carlo), seeded pseudo-random points (Monte Carlo), the standard-normal inverse CDF (AS 241) and chi quantiles. Everything seeded and reproducible. */
package io.dijiang4j.attention.qmc;
