// The kernels of one instruction level, included by q4_rows.c once per level under that level's target: DJ_LEVEL
// names them, DJ_DOT4(acc, a, b) adds to each int32 lane of acc the products of its four unsigned bytes of a with the
// four signed bytes of b.
// out[i * outStride + j] = sum over c < 32 blocks of x_i[c] w[j, c], j < rows, i < G, each x_i as dj_q4_quantize left
// it; the rows' packed bytes (16 a block) and scales (one a block) end to end from packed and scales. Each activation
// row takes the same operations in the same order whatever G is (a session's products do not depend on which sessions
// share its pass); the G rows share each pair's unpacked nibbles.
static inline __attribute__((always_inline)) void DJ_LEVEL(rowGroup)(const uint8_t *packed, const float *scales, int rows,
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
                __m256i d = DJ_DOT4(_mm256_setzero_si256(), lo, _mm256_loadu_si256((const __m256i *)x));
                d = DJ_DOT4(d, hi, _mm256_loadu_si256((const __m256i *)(x + 32)));
                __m256i d2 =
                    DJ_DOT4(_mm256_setzero_si256(), lo2, _mm256_loadu_si256((const __m256i *)(x + 64)));
                d2 = DJ_DOT4(d2, hi2, _mm256_loadu_si256((const __m256i *)(x + 96)));
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
                __m256i d = DJ_DOT4(_mm256_setzero_si256(), lo, _mm256_loadu_si256((const __m256i *)x));
                d = DJ_DOT4(d, hi, _mm256_loadu_si256((const __m256i *)(x + 32)));
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
                __m256i d = DJ_DOT4(_mm256_setzero_si256(), w,
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
void DJ_LEVEL(dj_q4_rows)(const uint8_t *packed, const float *scales, int rows, int blocks, int m, const int8_t *xq,
                const float *xsv, const float *xoff, float *out) {
    const size_t xqStride = 32 * (size_t)blocks, xsvStride = 8 * (size_t)(blocks / 2 + 1);
    int i = 0;
    for (; i + 4 <= m; i += 4) {
        DJ_LEVEL(rowGroup)(packed, scales, rows, blocks, xq + i * xqStride, xsv + i * xsvStride, xoff + (size_t)i * blocks,
                 out + (size_t)i * rows, rows, 4);
    }
    for (; i < m; i++) {
        DJ_LEVEL(rowGroup)(packed, scales, rows, blocks, xq + i * xqStride, xsv + i * xsvStride, xoff + (size_t)i * blocks,
                 out + (size_t)i * rows, rows, 1);
    }
}

