// Shared helpers for the dijiang4j kernels. All math is in the log domain: a value exp(a) is kept as a, and sums
// of exponentials are formed relative to a running maximum so that no exp() can overflow.
#pragma once
#include <math_constants.h>

#define DJ_NEG_INF (-CUDART_INF_F)

// exp(a - b) that is 0 (not NaN) when a is -inf, whatever b is.
__device__ __forceinline__ float dj_exp_diff(float a, float b) {
    return a == DJ_NEG_INF ? 0.0f : expf(a - b);
}

__device__ __forceinline__ float dj_warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float dj_warp_sum(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

// Block-wide max / sum; every thread gets the result. scratch holds >= 32 floats; blockDim.x a multiple of 32.
__device__ float dj_block_max(float x, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    x = dj_warp_max(x);
    __syncthreads();
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : DJ_NEG_INF;
    return dj_warp_max(r);
}

__device__ float dj_block_sum(float x, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    x = dj_warp_sum(x);
    __syncthreads();
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : 0.0f;
    return dj_warp_sum(r);
}
