// Activation rows (one per session of a decode pass) times Q4 weight rows that lie end to end, with int8 dot products,
// which the Vector API cannot reach (README "Matrix products", thirteenth round): AVX-512 VNNI's vpdpbusd (256-bit)
// where the CPU has it, else AVX2's vpmaddubsw + vpmaddwd, which give the same integers (two products of a nibble and
// an int8 fit an int16: 2 x 15 x 127 < 2^15), so both kernels give the same bits. dj_q4_quantize prepares the
// activations once (a product's chunks on one thread share them), dj_q4_rows_<level> multiplies.
// Jlama's Q4 block: 16 bytes, value i in the low nibble of byte i and value i + 16 in its high nibble, minus 8; one
// float scale. The activations are quantized to int8 per block of 32 (scale max|x| / 127, rounded to nearest even),
// as Jlama's own Q4 path quantizes them: sum over a block of x_c s (q_c - 8) = s sx (sum of xq_c q_c - 8 sum of xq_c).
// Built by cpu-native/build-native.sh into the committed library; the kernels carry their own target, so the library
// loads on any x86-64 CPU and dj_q4_level() says which may run.
#include <immintrin.h>
#include <stdint.h>

// 2: AVX-512 VNNI (and AVX2, FMA), 1: AVX2 and FMA only, 0: neither (the kernels must not run).
int dj_q4_level(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512vnni")
               ? 2
               : 1;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")

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
        // |q| <= 127, so the saturating packs are exact; they interleave 128-bit halves, which the permutation undoes
        __m256i bytes = _mm256_permutevar8x32_epi32(
            _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3)),
            _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm_storeu_si128((__m128i *)low, _mm256_castsi256_si128(bytes));
        _mm_storeu_si128((__m128i *)high, _mm256_extracti128_si256(bytes, 1));
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

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512vl,avx512vnni")
#define DJ_LEVEL(name) name##_vnni
#define DJ_DOT4(acc, a, b) _mm256_dpbusd_epi32(acc, a, b)
#include "q4_rows_kernel.h"
#undef DJ_LEVEL
#undef DJ_DOT4
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define DJ_LEVEL(name) name##_avx2
#define DJ_DOT4(acc, a, b) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)))
#include "q4_rows_kernel.h"
#undef DJ_LEVEL
#undef DJ_DOT4
#pragma GCC pop_options
