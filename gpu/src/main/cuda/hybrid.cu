// The exact part of the hybrid layer (docs/MATH.md §4): softmax over the attention sinks and the recent window,
// merged with the kernelized memory of the evicted middle that dj_memory_chunk wrote in raw form
// (numerator, denominator, log scale):
//     l_j = tau q.k_j (j exact),  c = max(max_j l_j, log g + memLogScale)
//     o = (sum_j exp(l_j - c) v_j + g exp(memLogScale - c) memNum) / (sum_j exp(l_j - c) + g exp(memLogScale - c) memDen)
#include "common.cuh"

// Query i of this call has absolute position n = position + i. Its exact keys: the sinks with index < min(sinkCount,
// n + 1) (sinkK/sinkV rows = absolute positions), and the window tokens with positions in [max(sinks, n - window + 1),
// n], held in the extended sequence extK/extV whose row e has position extStart + e.
// grid (queries, heads), block 128 (a multiple of 32), dynamic shared memory (d + sinks + window + 32) floats.
extern "C" __global__ void dj_hybrid_window(const float* __restrict__ q, const float* __restrict__ sinkK,
                                            const float* __restrict__ sinkV, int sinkCount,
                                            const float* __restrict__ extK, const float* __restrict__ extV,
                                            long long extStart, int extRows, int heads, int kvHeads, int d,
                                            long long position, int sinks, int window, float scale,
                                            const float* __restrict__ memoryGain, const float* __restrict__ memNum,
                                            const float* __restrict__ memDen,
                                            const float* __restrict__ memLogScale, int queries,
                                            float* __restrict__ out) {
    extern __shared__ float smem[];
    const int i = blockIdx.x, h = blockIdx.y;
    const int g = h / (heads / kvHeads);
    const int kvStride = kvHeads * d;
    const long long n = position + i;
    float* qs = smem;             // d
    float* logits = qs + d;       // sinks + window
    float* scratch = logits + sinks + window; // 32

    const float* qrow = q + (size_t)i * heads * d + (size_t)h * d;
    for (int t = threadIdx.x; t < d; t += blockDim.x) qs[t] = qrow[t];
    __syncthreads();

    const int sinkUsed = (int)min((long long)sinkCount, n + 1);
    long long windowFirst = n - window + 1;
    if (windowFirst < sinks) windowFirst = sinks;
    const int extFirst = (int)(windowFirst - extStart);
    const int extLast = (int)(n - extStart); // inclusive; < extRows
    const int windowUsed = extLast >= extFirst ? extLast - extFirst + 1 : 0;
    const int total = sinkUsed + windowUsed;

    float localMax = DJ_NEG_INF;
    for (int t = threadIdx.x; t < total; t += blockDim.x) {
        const float* krow = t < sinkUsed ? sinkK + (size_t)t * kvStride + (size_t)g * d
                                         : extK + (size_t)(extFirst + t - sinkUsed) * kvStride + (size_t)g * d;
        float dot = 0.0f;
        for (int c = 0; c < d; c++) dot = fmaf(qs[c], krow[c], dot);
        float logit = scale * dot;
        logits[t] = logit;
        localMax = fmaxf(localMax, logit);
    }
    float exactMax = dj_block_max(localMax, scratch);

    const float gain = memoryGain[h];
    const size_t hq = (size_t)h * queries + i;
    const float mls = memLogScale[hq];
    const bool useMemory = gain > 0.0f && mls != DJ_NEG_INF && memDen[hq] > 0.0f;
    const float memLog = useMemory ? logf(gain) + mls : DJ_NEG_INF;
    const float top = fmaxf(exactMax, memLog);
    const float memWeight = useMemory ? expf(memLog - top) : 0.0f;

    float localSum = 0.0f;
    for (int t = threadIdx.x; t < total; t += blockDim.x) {
        float p = dj_exp_diff(logits[t], top);
        logits[t] = p;
        localSum += p;
    }
    float den = dj_block_sum(localSum, scratch) + (useMemory ? memWeight * memDen[hq] : 0.0f);
    __syncthreads();

    const size_t o = (size_t)i * heads * d + (size_t)h * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float num = useMemory ? memWeight * memNum[o + c] : 0.0f;
        for (int t = 0; t < total; t++) {
            const float* vrow = t < sinkUsed ? sinkV + (size_t)t * kvStride + (size_t)g * d
                                             : extV + (size_t)(extFirst + t - sinkUsed) * kvStride + (size_t)g * d;
            num = fmaf(logits[t], vrow[c], num);
        }
        out[o + c] = den > 0.0f ? num / den : 0.0f;
    }
}
