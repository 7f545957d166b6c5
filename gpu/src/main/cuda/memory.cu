// Kernelized (linear) attention over a running state, chunked for prefill and one token at a time for decode.
//
// State per query head h (kept on the device between calls): per feature l a log offset c_l and the scaled sums
//     S~_l = sum_j exp(logphi_l(k_j) + (t - j) log(lambda) - c_l) v_j,   z~_l = same without v_j,
// where t is the position of the last key absorbed and c_l the largest exponent (so every term is <= 1 and the
// largest is exactly 1). Decay is a shift of the log offset, never lambda^-n.
//
// Query row i (absolute position n) sees the keys at or before a lag: in key-sequence indices j <= i + keyOffset,
// with an optional extra decay of extraDecaySteps positions. Plain linear attention: 0 and 0. The hybrid's memory
// holds the keys that left the exact window (keyOffset < 0) and decays a key from the step it left the window,
// lambda^(n - w - j), so its extra decay is 0 as well. With key blocks shifted by keyOffset the causal mask inside
// a block stays the triangle j <= i.
//
// Blocks of BLOCK query rows are processed in order by one thread block per (query head, slice of value columns).
// For row i the exponent bound r_i = max_l (logphi_l(q_i) + w_il), w_il the largest decayed key exponent of feature
// l visible to row i, is attained by one real term, so the normalized denominator is >= 1 and nothing underflows
// to 0/0. The intra-block scores are formed pair by pair in the log domain (exp(lq + lk - r_i)), which is exact
// where a factorized Q~ K~^T product could overflow one factor and underflow the other.
#include "common.cuh"

#define DJ_VALUE_SLICE 32

// Modes: write the normalized output, or the raw numerator / denominator / log scale for the hybrid combine.
#define DJ_MODE_NORMALIZED 0
#define DJ_MODE_RAW 1

struct MemoryArgs {
    const float* logQ;   // [heads][queries][m]
    const float* logK;   // [kvHeads][keys][m]
    const float* values; // [keys][valueStride], KV head g at columns [g*d, g*d+d)
    const float* logDecay; // [heads], log(lambda_h) <= 0 (0 = no decay)
    const float* offsetsIn; // state c [heads][m] before this call
    const float* normsIn;   // state z~ [heads][m] before this call
    float* offsetsOut;      // c after this call (another buffer: the value slices of a head read c concurrently)
    float* normsOut;        // z~ after this call
    float* sums;            // state S~ [heads][m][d], updated in place (each slice owns its columns)
    float* out;          // NORMALIZED: [queries][heads*d]; RAW: numerators, same layout
    float* rawDen;       // RAW: [heads][queries]
    float* rawLogScale;  // RAW: [heads][queries]
    int queries, keys, heads, kvHeads, d, m, valueStride, keyOffset, extraDecaySteps, mode;
};

template <int BLOCK>
__device__ void dj_memory_forward(const MemoryArgs a) {
    extern __shared__ float smem[];
    const int h = blockIdx.x, slice = blockIdx.y;
    const int g = h / (a.heads / a.kvHeads);
    const int m = a.m, d = a.d;
    const int v0 = slice * DJ_VALUE_SLICE;
    const int dv = min(DJ_VALUE_SLICE, d - v0);
    const float logLambda = a.logDecay[h];
    const int tid = threadIdx.x, nthreads = blockDim.x;

    float* c = smem;                    // m: state log offsets
    float* zt = c + m;                  // m
    float* cNew = zt + m;               // m
    float* carry = cNew + m;            // m: exp(c_old + nb log(lambda) - c_new)
    float* st = carry + m;              // m * DJ_VALUE_SLICE
    float* lq = st + m * DJ_VALUE_SLICE; // BLOCK * m
    float* lk = lq + BLOCK * m;          // BLOCK * m
    float* work = lk + BLOCK * m;        // BLOCK * m: lq + w, then the inter-block query coefficients
    float* vb = work + BLOCK * m;        // BLOCK * DJ_VALUE_SLICE
    float* scores = vb + BLOCK * DJ_VALUE_SLICE; // BLOCK * BLOCK
    float* rowMax = scores + BLOCK * BLOCK;      // BLOCK

    float* gSums = a.sums + (size_t)h * m * d;
    for (int l = tid; l < m; l += nthreads) {
        c[l] = a.offsetsIn[(size_t)h * m + l];
        zt[l] = a.normsIn[(size_t)h * m + l];
    }
    for (int idx = tid; idx < m * DJ_VALUE_SLICE; idx += nthreads) {
        int l = idx / DJ_VALUE_SLICE, v = idx % DJ_VALUE_SLICE;
        st[idx] = v < dv ? gSums[(size_t)l * d + v0 + v] : 0.0f;
    }
    __syncthreads();

    const float* logQh = a.logQ + (size_t)h * a.queries * m;
    const float* logKg = a.logK + (size_t)g * a.keys * m;
    for (int b0 = 0; b0 < a.queries; b0 += BLOCK) {
        const int nb = min(BLOCK, a.queries - b0);
        const int k0 = b0 + a.keyOffset; // key-sequence index of this block's first key
        for (int idx = tid; idx < BLOCK * m; idx += nthreads) {
            int i = idx / m, l = idx % m;
            int key = k0 + i;
            lq[idx] = i < nb ? logQh[(size_t)(b0 + i) * m + l] : DJ_NEG_INF;
            lk[idx] = (i < nb && key >= 0 && key < a.keys) ? logKg[(size_t)key * m + l] : DJ_NEG_INF;
        }
        for (int idx = tid; idx < BLOCK * DJ_VALUE_SLICE; idx += nthreads) {
            int i = idx / DJ_VALUE_SLICE, v = idx % DJ_VALUE_SLICE;
            int key = k0 + i;
            vb[idx] = (i < nb && v < dv && key >= 0 && key < a.keys)
                    ? a.values[(size_t)key * a.valueStride + (size_t)g * d + v0 + v]
                    : 0.0f;
        }
        __syncthreads();

        // Per feature, the running maximum of the decayed key exponents visible to each row (state included).
        for (int l = tid; l < m; l += nthreads) {
            float run = c[l];
            for (int i = 0; i < nb; i++) {
                run = fmaxf(run + logLambda, lk[i * m + l]);
                work[i * m + l] = lq[i * m + l] + run + (float)a.extraDecaySteps * logLambda;
            }
            cNew[l] = run;
        }
        __syncthreads();
        for (int i = tid >> 5; i < nb; i += nthreads >> 5) {
            float mx = DJ_NEG_INF;
            for (int l = tid & 31; l < m; l += 32) mx = fmaxf(mx, work[i * m + l]);
            mx = dj_warp_max(mx);
            if ((tid & 31) == 0) rowMax[i] = mx;
        }
        __syncthreads();

        // Intra-block scores, causal triangle, with the decay lambda^(i - j + extra).
        for (int idx = tid; idx < BLOCK * BLOCK; idx += nthreads) {
            int i = idx / BLOCK, j = idx % BLOCK;
            float s = 0.0f;
            if (i < nb && j <= i && rowMax[i] != DJ_NEG_INF) {
                const float* qi = lq + i * m;
                const float* kj = lk + j * m;
                float r = rowMax[i] - (float)(i - j + a.extraDecaySteps) * logLambda;  // decay folded into r
                for (int l = 0; l < m; l++) s += dj_exp_diff(qi[l] + kj[l], r);
            }
            scores[idx] = s;
        }
        // Inter-block coefficients of the state: exp(lq + c + (i + 1 + extra) log(lambda) - r_i).
        for (int idx = tid; idx < BLOCK * m; idx += nthreads) {
            int i = idx / m, l = idx % m;
            float coef = 0.0f;
            if (i < nb && rowMax[i] != DJ_NEG_INF && c[l] != DJ_NEG_INF) {
                coef = expf(lq[idx] + c[l] + (float)(i + 1 + a.extraDecaySteps) * logLambda - rowMax[i]);
            }
            work[idx] = coef;
        }
        __syncthreads();

        for (int idx = tid; idx < BLOCK * DJ_VALUE_SLICE; idx += nthreads) {
            int i = idx / DJ_VALUE_SLICE, v = idx % DJ_VALUE_SLICE;
            if (i >= nb || v >= dv) continue;
            float num = 0.0f, den = 0.0f;
            const float* coef = work + i * m;
            for (int l = 0; l < m; l++) {
                num = fmaf(coef[l], st[l * DJ_VALUE_SLICE + v], num);
                den = fmaf(coef[l], zt[l], den);
            }
            const float* srow = scores + i * BLOCK;
            for (int j = 0; j <= i; j++) {
                num = fmaf(srow[j], vb[j * DJ_VALUE_SLICE + v], num);
                den += srow[j];
            }
            size_t o = (size_t)(b0 + i) * a.heads * d + (size_t)h * d + v0 + v;
            if (a.mode == DJ_MODE_NORMALIZED) {
                a.out[o] = den > 0.0f ? num / den : 0.0f;
            } else {
                a.out[o] = num;
                if (v0 + v == 0) {
                    a.rawDen[(size_t)h * a.queries + b0 + i] = den;
                    a.rawLogScale[(size_t)h * a.queries + b0 + i] = den > 0.0f ? rowMax[i] : DJ_NEG_INF;
                }
            }
        }
        __syncthreads();

        // Absorb this block's keys: rescale the state to the new offsets and add the scaled key terms.
        for (int idx = tid; idx < BLOCK * m; idx += nthreads) {
            int j = idx / m, l = idx % m;
            lk[idx] = (j < nb && cNew[l] != DJ_NEG_INF) ? dj_exp_diff(lk[idx] + (float)(nb - 1 - j) * logLambda, cNew[l])
                                                       : 0.0f;
        }
        for (int l = tid; l < m; l += nthreads) {
            carry[l] = (cNew[l] == DJ_NEG_INF) ? 0.0f : dj_exp_diff(c[l] + (float)nb * logLambda, cNew[l]);
        }
        __syncthreads();
        for (int idx = tid; idx < m * DJ_VALUE_SLICE; idx += nthreads) {
            int l = idx / DJ_VALUE_SLICE, v = idx % DJ_VALUE_SLICE;
            float acc = st[idx] * carry[l];
            for (int j = 0; j < nb; j++) acc = fmaf(lk[j * m + l], vb[j * DJ_VALUE_SLICE + v], acc);
            st[idx] = acc;
        }
        for (int l = tid; l < m; l += nthreads) {
            float acc = zt[l] * carry[l];
            for (int j = 0; j < nb; j++) acc += lk[j * m + l];
            zt[l] = acc;
            c[l] = cNew[l];
        }
        __syncthreads();
    }

    for (int idx = tid; idx < m * DJ_VALUE_SLICE; idx += nthreads) {
        int l = idx / DJ_VALUE_SLICE, v = idx % DJ_VALUE_SLICE;
        if (v < dv) gSums[(size_t)l * d + v0 + v] = st[idx];
    }
    if (slice == 0) { // every slice computed the same offsets and normalizers; one writes them back
        for (int l = tid; l < m; l += nthreads) {
            a.offsetsOut[(size_t)h * m + l] = c[l];
            a.normsOut[(size_t)h * m + l] = zt[l];
        }
    }
}

#define DJ_MEMORY_PARAMS                                                                                            \
    const float *logQ, const float *logK, const float *values, const float *logDecay, const float *offsetsIn,       \
        const float *normsIn, float *offsetsOut, float *normsOut, float *sums, float *out, float *rawDen, float *rawLogScale, int queries, int keys, int heads, int kvHeads,  \
        int d, int m, int valueStride, int keyOffset, int extraDecaySteps, int mode

#define DJ_MEMORY_ARGS                                                                                              \
    MemoryArgs{logQ, logK, values, logDecay, offsetsIn, normsIn, offsetsOut, normsOut, sums, out, rawDen, rawLogScale, queries, keys, heads,   \
               kvHeads, d, m, valueStride, keyOffset, extraDecaySteps, mode}

// Prefill: grid (heads, ceil(d / 32)), block 256, dynamic shared memory dj_memory_shared_floats(32, m) * 4 bytes.
extern "C" __global__ void dj_memory_chunk(DJ_MEMORY_PARAMS) {
    dj_memory_forward<32>(DJ_MEMORY_ARGS);
}

// Decode (one query, the recurrent update): same grid, block 128, shared memory for BLOCK = 1.
extern "C" __global__ void dj_memory_step(DJ_MEMORY_PARAMS) {
    dj_memory_forward<1>(DJ_MEMORY_ARGS);
}
