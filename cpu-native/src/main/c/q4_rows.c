// One activation row times Q4 weight rows that lie end to end (a session's decode product), with AVX-512 VNNI's int8
// dot product (vpdpbusd, 256-bit), which the Vector API cannot reach (README "Matrix products", thirteenth round).
// dj_q4_quantize prepares the activations once (a product's chunks on one thread share them), dj_q4_rows multiplies.
// Jlama's Q4 block: 16 bytes, value i in the low nibble of byte i and value i + 16 in its high nibble, minus 8; one
// float scale. The activations are quantized to int8 per block of 32 (scale max|x| / 127, rounded to nearest even),
// as Jlama's own Q4 path quantizes them: sum over a block of x_c s (q_c - 8) = s sx (sum of xq_c q_c - 8 sum of xq_c).
// Built by cpu-native/build-native.sh into the committed library; the kernels carry their own target, so the library
// loads on any x86-64 CPU and dj_q4_supported() says whether they may run.
#include <immintrin.h>
#include <stdint.h>

int dj_q4_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512vl,avx512vnni")

static inline float hsum(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
}

static inline int hsum_int(__m256i v) {
    __m128i a = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4E));
    return _mm_cvtsi128_si32(_mm_add_epi32(a, _mm_shuffle_epi32(a, 0xB1)));
}

// The activations quantized for pairs of blocks: a pair's 64 bytes are the low halves (values 0..15) of its two blocks
// and then their high halves (16..31), the order in which one 32-byte load of the pair's packed weights yields its
// nibbles (low nibbles, then high); xsv holds each pair's two block scales spread over a vector's lanes 0..3 and 4..7
// (the lanes vpdpbusd sums each block into). An odd last block stays in column order. xoff: -8 sx (sum of xq) a block.
// One activation row; sizes: xq 32 blocks bytes, xsv 8 (blocks / 2 + 1) floats, xoff blocks floats.
static void quantizeRow(const float *x, int blocks, int8_t *xq, float *xsv, float *xoff) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < blocks; b++) {
        const float *v = x + 32 * b;
        __m256 x0 = _mm256_loadu_ps(v), x1 = _mm256_loadu_ps(v + 8), x2 = _mm256_loadu_ps(v + 16),
               x3 = _mm256_loadu_ps(v + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, x0), _mm256_andnot_ps(sign, x1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, x2), _mm256_andnot_ps(sign, x3)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        float max = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
        float s = max / 127.0f, inv = max > 0 ? 127.0f / max : 0.0f;
        __m256 iv = _mm256_set1_ps(inv);
        __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(x0, iv)), q1 = _mm256_cvtps_epi32(_mm256_mul_ps(x1, iv));
        __m256i q2 = _mm256_cvtps_epi32(_mm256_mul_ps(x2, iv)), q3 = _mm256_cvtps_epi32(_mm256_mul_ps(x3, iv));
        int8_t *low, *high; // where values 0..15 and 16..31 of this block go
        if (b + 1 < blocks || b % 2 == 1) {
            low = xq + 64 * (b / 2) + 16 * (b % 2);
            high = low + 32;
        } else {
            low = xq + 32 * b;
            high = low + 16;
        }
        _mm_storel_epi64((__m128i *)low, _mm256_cvtepi32_epi8(q0));
        _mm_storel_epi64((__m128i *)(low + 8), _mm256_cvtepi32_epi8(q1));
        _mm_storel_epi64((__m128i *)high, _mm256_cvtepi32_epi8(q2));
        _mm_storel_epi64((__m128i *)(high + 8), _mm256_cvtepi32_epi8(q3));
        for (int l = 0; l < 4; l++) xsv[8 * (b / 2) + 4 * (b % 2) + l] = s;
        xoff[b] = -8.0f * s * (float)hsum_int(_mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)));
    }
}

// m activation rows of 32 blocks each, x row i at 32 blocks i, the outputs at i times the sizes above.
void dj_q4_quantize(const float *x, int m, int blocks, int8_t *xq, float *xsv, float *xoff) {
    for (int i = 0; i < m; i++) {
        quantizeRow(x + (size_t)i * 32 * blocks, blocks, xq + (size_t)i * 32 * blocks, xsv + (size_t)i * 8 * (blocks / 2 + 1),
                    xoff + (size_t)i * blocks);
    }
}

// out[i * outStride + j] = sum over c < 32 blocks of x_i[c] w[j, c], j < rows, i < G, each x_i as dj_q4_quantize left
// it; the rows' packed bytes (16 a block) and scales (one a block) end to end from packed and scales. Each activation
// row takes the same operations in the same order whatever G is (a session's products do not depend on which sessions
// share its pass); the G rows share each pair's unpacked nibbles.
static inline __attribute__((always_inline)) void rowGroup(const uint8_t *packed, const float *scales, int rows,
                                                           int blocks, const int8_t *xq, const float *xsv,
                                                           const float *xoff, float *out, int outStride, const int G) {
    const int pairs = blocks / 2;
    const size_t xqStride = 32 * (size_t)blocks, xsvStride = 8 * (size_t)(pairs + 1);
    const __m128i low = _mm_set1_epi8(0x0F);
    const __m256i low2 = _mm256_set1_epi8(0x0F);
    const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    for (int r = 0; r < rows; r++) {
        const uint8_t *q = packed + (size_t)r * blocks * 16;
        const float *s = scales + (size_t)r * blocks;
        __m256 acc[4], acc2[4];  // per activation row two chains: even and odd pairs
        for (int i = 0; i < G; i++) acc[i] = acc2[i] = _mm256_setzero_ps();
        int p = 0;
        for (; p + 2 <= pairs; p += 2) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * p));
            __m256i v2 = _mm256_loadu_si256((const __m256i *)(q + 32 * p + 32));
            __m256i lo = _mm256_and_si256(v, low2), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low2);
            __m256i lo2 = _mm256_and_si256(v2, low2), hi2 = _mm256_and_si256(_mm256_srli_epi16(v2, 4), low2);
            __m256 sw = _mm256_permutevar8x32_ps(
                _mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd((const double *)(s + 2 * p)))), spread);
            __m256 sw2 = _mm256_permutevar8x32_ps(
                _mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd((const double *)(s + 2 * p + 2)))), spread);
            for (int i = 0; i < G; i++) {
                const int8_t *x = xq + i * xqStride + 64 * p;
                const float *xs = xsv + i * xsvStride + 8 * p;
                __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, _mm256_loadu_si256((const __m256i *)x));
                d = _mm256_dpbusd_epi32(d, hi, _mm256_loadu_si256((const __m256i *)(x + 32)));
                __m256i d2 =
                    _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo2, _mm256_loadu_si256((const __m256i *)(x + 64)));
                d2 = _mm256_dpbusd_epi32(d2, hi2, _mm256_loadu_si256((const __m256i *)(x + 96)));
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(sw, _mm256_loadu_ps(xs)), acc[i]);
                acc2[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d2), _mm256_mul_ps(sw2, _mm256_loadu_ps(xs + 8)), acc2[i]);
            }
        }
        if (p < pairs) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * p));
            __m256i lo = _mm256_and_si256(v, low2), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low2);
            __m256 sw = _mm256_permutevar8x32_ps(
                _mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd((const double *)(s + 2 * p)))), spread);
            for (int i = 0; i < G; i++) {
                const int8_t *x = xq + i * xqStride + 64 * p;
                __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, _mm256_loadu_si256((const __m256i *)x));
                d = _mm256_dpbusd_epi32(d, hi, _mm256_loadu_si256((const __m256i *)(x + 32)));
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d),
                                         _mm256_mul_ps(sw, _mm256_loadu_ps(xsv + i * xsvStride + 8 * p)), acc[i]);
            }
        }
        for (int i = 0; i < G; i++) {
            const int8_t *x = xq + i * xqStride;
            const float *xs = xsv + i * xsvStride, *xo = xoff + (size_t)i * blocks;
            float off = 0;
            if (blocks % 2 == 1) {  // the odd last block, its activations in column order
                int b = blocks - 1;
                __m128i by = _mm_loadu_si128((const __m128i *)(q + 16 * b));
                __m256i w = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(by, 4), low), _mm_and_si128(by, low));
                __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), w,
                                                _mm256_loadu_si256((const __m256i *)(x + 32 * b)));
                off += s[b] * xs[8 * pairs] * (float)hsum_int(d);
            }
            // the offset's share: sum over blocks of s xoff, eight blocks a vector
            __m256 offs = _mm256_setzero_ps();
            int b = 0;
            for (; b + 8 <= blocks; b += 8) offs = _mm256_fmadd_ps(_mm256_loadu_ps(s + b), _mm256_loadu_ps(xo + b), offs);
            for (; b < blocks; b++) off += s[b] * xo[b];
            out[(size_t)i * outStride + r] = hsum(_mm256_add_ps(_mm256_add_ps(acc[i], acc2[i]), offs)) + off;
        }
    }
}

// out[i * rows + j] = sum over c < 32 blocks of x_i[c] w[j, c], j < rows, for m activation rows x_i as
// dj_q4_quantize left them (row i's arrays at i times its strides), in groups of four rows and then one at a time.
void dj_q4_rows(const uint8_t *packed, const float *scales, int rows, int blocks, int m, const int8_t *xq,
                const float *xsv, const float *xoff, float *out) {
    const size_t xqStride = 32 * (size_t)blocks, xsvStride = 8 * (size_t)(blocks / 2 + 1);
    int i = 0;
    for (; i + 4 <= m; i += 4) {
        rowGroup(packed, scales, rows, blocks, xq + i * xqStride, xsv + i * xsvStride, xoff + (size_t)i * blocks,
                 out + (size_t)i * rows, rows, 4);
    }
    for (; i < m; i++) {
        rowGroup(packed, scales, rows, blocks, xq + i * xqStride, xsv + i * xsvStride, xoff + (size_t)i * blocks,
                 out + (size_t)i * rows, rows, 1);
    }
}

#pragma GCC pop_options
