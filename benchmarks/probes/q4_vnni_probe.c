// What a native Q4 decode kernel would gain over the project's Vector API kernels (README "Matrix products",
// thirteenth round). Jlama's Q4 blocks (16 bytes: value i in the low nibble of byte i, value i + 16 in its high
// nibble, minus 8; one float scale) times activations quantized to int8 per block of 32, as Jlama's own Q4 path
// quantizes them, with the int8 dot-product instruction of AVX-512 VNNI (vpdpbusd, 256-bit), which the Vector API
// cannot reach. The matrices are the synthetic small shape's eight layers with random weights, as in JMH
// DecodeProductBench; one activation row (one session's decode) and eight (a batched pass of eight sessions); the
// median of 15 passes. Not part of the build:
//   gcc -O3 -march=native -fopenmp -o /tmp/q4probe benchmarks/probes/q4_vnni_probe.c -lm
//   OMP_WAIT_POLICY=active /tmp/q4probe 1; OMP_WAIT_POLICY=active /tmp/q4probe 2      (the argument: threads)
// Needs a CPU with AVX-512 VNNI and VL (Ice Lake, Sapphire Rapids, Zen 4 and later).
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct { int rows, k; unsigned char *q; float *s; } Q4;  // packed rows * k / 2 bytes, rows * k / 32 scales
typedef struct { signed char *q; float *s, *off; } Q8;           // per block: scale, and -8 * scale * sum of q

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void quantize(const float *x, int k, Q8 *a) {
    for (int b = 0; b < k / 32; b++) {
        float max = 0;
        for (int i = 0; i < 32; i++) max = fmaxf(max, fabsf(x[b * 32 + i]));
        float s = max / 127.f, inv = s > 0 ? 1 / s : 0;
        int sum = 0;
        for (int i = 0; i < 32; i++) sum += a->q[b * 32 + i] = (signed char)lrintf(x[b * 32 + i] * inv);
        a->s[b] = s;
        a->off[b] = -8.f * s * sum;
    }
}

static float hsum(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
}

// the 32 nibbles of one block as unsigned bytes in column order
static __m256i nibbles(const unsigned char *block) {
    const __m128i low = _mm_set1_epi8(0x0F);
    __m128i b = _mm_loadu_si128((const __m128i *)block);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), low), _mm_and_si128(b, low));
}

// out[r] for rows r0..r1 of w times one activation row (two blocks a step, two chains)
static void oneRow(const Q4 *w, int r0, int r1, const Q8 *a, float *out) {
    int blocks = w->k / 32;
    for (int r = r0; r < r1; r++) {
        const unsigned char *q = w->q + (size_t)r * w->k / 2;
        const float *s = w->s + (size_t)r * blocks;
        __m256 acc = _mm256_setzero_ps(), acc2 = acc;
        float off = 0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles(q + b * 16),
                                            _mm256_loadu_si256((const __m256i *)(a->q + b * 32)));
            __m256i d2 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles(q + b * 16 + 16),
                                             _mm256_loadu_si256((const __m256i *)(a->q + b * 32 + 32)));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(s[b] * a->s[b]), acc);
            acc2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d2), _mm256_set1_ps(s[b + 1] * a->s[b + 1]), acc2);
            off += s[b] * a->off[b] + s[b + 1] * a->off[b + 1];
        }
        for (; b < blocks; b++) {
            __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles(q + b * 16),
                                            _mm256_loadu_si256((const __m256i *)(a->q + b * 32)));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(s[b] * a->s[b]), acc);
            off += s[b] * a->off[b];
        }
        out[r] = hsum(_mm256_add_ps(acc, acc2)) + off;
    }
}

// out[i * rows + r] for eight activation rows i: each block's nibbles unpacked once for the eight
static void eightRows(const Q4 *w, int r0, int r1, const Q8 *a, float *out) {
    int blocks = w->k / 32;
    for (int r = r0; r < r1; r++) {
        const unsigned char *q = w->q + (size_t)r * w->k / 2;
        const float *s = w->s + (size_t)r * blocks;
        __m256 acc[8];
        float off[8];
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps(), off[i] = 0;
        for (int b = 0; b < blocks; b++) {
            __m256i wq = nibbles(q + b * 16);
            for (int i = 0; i < 8; i++) {
                __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wq,
                                                _mm256_loadu_si256((const __m256i *)(a[i].q + b * 32)));
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(s[b] * a[i].s[b]), acc[i]);
                off[i] += s[b] * a[i].off[b];
            }
        }
        for (int i = 0; i < 8; i++) out[i * w->rows + r] = hsum(acc[i]) + off[i];
    }
}

// one product, its weight rows split evenly over the threads
static void product(const Q4 *w, const Q8 *a, float *out, int eight, int threads) {
    int per = (w->rows + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; t++) {
        int r0 = t * per, r1 = r0 + per > w->rows ? w->rows : r0 + per;
        if (eight) eightRows(w, r0, r1, a, out);
        else oneRow(w, r0, r1, a, out);
    }
}

// the float64 product of the same quantized operands
static double reference(const Q4 *w, int r, const Q8 *a) {
    double sum = 0;
    for (int c = 0; c < w->k; c++) {
        int b = c / 32, i = c % 32;
        unsigned char byte = w->q[(size_t)r * w->k / 2 + b * 16 + i % 16];
        int nibble = i < 16 ? byte & 15 : byte >> 4;
        sum += (double)(nibble - 8) * w->s[(size_t)r * w->k / 32 + b] * a->q[c] * a->s[b];
    }
    return sum;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    // per layer: q 512 x 512, k and v 256 x 512, o 512 x 512, gate and up 1408 x 512, down 512 x 1408
    int shapes[7][2] = {{512, 512}, {256, 512}, {256, 512}, {512, 512}, {1408, 512}, {1408, 512}, {512, 1408}};
    enum { LAYERS = 8, MATRICES = 7 * LAYERS, REPEATS = 15 };
    Q4 w[MATRICES];
    long weights = 0;
    srand(1);
    for (int m = 0; m < MATRICES; m++) {
        w[m].rows = shapes[m % 7][0];
        w[m].k = shapes[m % 7][1];
        size_t n = (size_t)w[m].rows * w[m].k;
        w[m].q = malloc(n / 2);
        w[m].s = malloc(n / 32 * sizeof(float));
        for (size_t j = 0; j < n / 2; j++) w[m].q[j] = (unsigned char)rand();
        for (size_t j = 0; j < n / 32; j++) w[m].s[j] = rand() / (float)RAND_MAX * 0.01f;
        weights += n;
    }
    Q8 act[2][8];  // [k is 1408][activation row]
    float x[1408], *out = malloc(8 * 1408 * sizeof(float));
    for (int wide = 0; wide < 2; wide++) {
        int k = wide ? 1408 : 512;
        for (int i = 0; i < 8; i++) {
            act[wide][i] = (Q8){malloc(k), malloc(k / 32 * sizeof(float)), malloc(k / 32 * sizeof(float))};
            for (int j = 0; j < k; j++) x[j] = rand() / (float)RAND_MAX - 0.5f;
            quantize(x, k, &act[wide][i]);
        }
    }
    for (int eight = 0; eight < 2; eight++) {  // both kernels against the float64 reference, on every shape
        for (int m = 0; m < 7; m++) {
            const Q8 *a = act[w[m].k == 1408];
            product(&w[m], a, out, eight, threads);
            for (int i = 0; i < (eight ? 8 : 1); i++) {
                for (int r = 0; r < w[m].rows; r += 97) {
                    double ref = reference(&w[m], r, &a[i]), got = out[i * w[m].rows + r];
                    if (fabs(got - ref) > 1e-4 * (1 + fabs(ref))) {
                        fprintf(stderr, "error: matrix %d row %d activation %d: %g, float64 %g\n", m, r, i, got, ref);
                        return 1;
                    }
                }
            }
        }
    }
    for (int eight = 0; eight < 2; eight++) {
        double times[REPEATS];
        for (int rep = 0; rep < REPEATS; rep++) {
            double t0 = now();
            for (int m = 0; m < MATRICES; m++) product(&w[m], act[w[m].k == 1408], out, eight, threads);
            times[rep] = now() - t0;
        }
        for (int i = 0; i < REPEATS; i++)
            for (int j = i + 1; j < REPEATS; j++)
                if (times[j] < times[i]) { double t = times[i]; times[i] = times[j]; times[j] = t; }
        double median = times[REPEATS / 2];
        printf("%s, %d thread(s): median %.3f ms a pass of the eight layers, %.1f G weights/s, %.1f GMAC/s\n",
               eight ? "eight rows" : "one row", threads, median * 1e3, weights / median * 1e-9,
               weights * (eight ? 8 : 1) / median * 1e-9);
    }
    return 0;
}
