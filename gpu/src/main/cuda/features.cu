// Log-domain feature maps: log phi_l(x) = (x P)_l + logWeight_l + norm(x), x = prescale * (one head's row).
// This is the common form of every map the project ships (FeatureMap in jlama-attention): a projection (DCT times
// quasi-Monte Carlo frequencies, or random directions) followed by an exponential with one of three normalizations.
#include "common.cuh"

#define DJ_NORM_NONE 0
#define DJ_NORM_GAUSSIAN 1
#define DJ_NORM_SOFTMAX 2

// x: [rows][rowStride], head h occupies columns [h*d, h*d+d). proj: [d][m] row-major. out: [heads][rows][m].
// grid (rows, heads), block a multiple of 32; dynamic shared memory (d + m + 32) floats.
extern "C" __global__ void dj_log_features(const float* __restrict__ x, int rows, int heads, int rowStride, int d,
                                           int m, const float* __restrict__ proj,
                                           const float* __restrict__ logWeight, int normalization,
                                           float prescale, float* __restrict__ out) {
    extern __shared__ float smem[];
    float* xs = smem;          // d
    float* projected = xs + d; // m
    float* scratch = projected + m;
    int row = blockIdx.x, head = blockIdx.y;
    const float* xr = x + (size_t)row * rowStride + (size_t)head * d;

    float sq = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = prescale * xr[i];
        xs[i] = v;
        sq += v * v;
    }
    __syncthreads();
    float localMax = DJ_NEG_INF;
    for (int l = threadIdx.x; l < m; l += blockDim.x) {
        float acc = 0.0f;
        for (int i = 0; i < d; i++) acc = fmaf(xs[i], proj[(size_t)i * m + l], acc);
        projected[l] = acc;
        localMax = fmaxf(localMax, acc);
    }
    float norm = 0.0f;
    if (normalization == DJ_NORM_GAUSSIAN) {
        norm = -0.5f * dj_block_sum(sq, scratch);
    } else if (normalization == DJ_NORM_SOFTMAX) {
        // log softmax: subtract logsumexp over the m projected features, stabilized by their maximum.
        float maxAll = dj_block_max(localMax, scratch);
        __syncthreads();
        float s = 0.0f;
        for (int l = threadIdx.x; l < m; l += blockDim.x) s += expf(projected[l] - maxAll);
        norm = -(maxAll + logf(dj_block_sum(s, scratch)));
    }
    __syncthreads();
    float* o = out + ((size_t)head * rows + row) * m;
    for (int l = threadIdx.x; l < m; l += blockDim.x) o[l] = projected[l] + logWeight[l] + norm;
}
