// Fused bias + activation, forward and backward (float32, contiguous).
//
// The input is viewed as (outer, C, inner): a dense layer's (N, F) has C = F, inner = 1;
// an NCHW feature map has C channels and inner = H * W.  Element i belongs to channel
// (i / inner) % C, so one kernel serves both layouts.
//
//   forward    z = x + b[c],            y = f(z)      (f's parameters: slope, threshold)
//   backward   dL/dx = dL/dy * f'(z)    (z recomputed from x and b, nothing else saved)
//              dL/db[c] = sum over (outer, inner) of dL/dx   (channel_sum, deterministic)
//
// f and f' come from activation.cuh, the one activation table (the GEMM epilogue uses it too).

#include "activation.cuh"

// y[i] = f(x[i] + b[(i / inner) % channels]); bias is ignored when has_bias == 0.
extern "C" __global__ void bias_act_forward(const float* __restrict__ x, const float* __restrict__ bias,
                                            float* __restrict__ y, int n, int channels, int inner,
                                            int has_bias, int act, float slope, float threshold)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float z = x[i];
        if (has_bias) z += bias[(i / inner) % channels];
        y[i] = act_value(z, act, slope, threshold);
    }
}

// grad_x[i] = grad_y[i] * f'(x[i] + b[c]).
extern "C" __global__ void bias_act_backward(const float* __restrict__ grad_y, const float* __restrict__ x,
                                             const float* __restrict__ bias, float* __restrict__ grad_x,
                                             int n, int channels, int inner, int has_bias, int act,
                                             float slope, float threshold)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float z = x[i];
        if (has_bias) z += bias[(i / inner) % channels];
        grad_x[i] = grad_y[i] * act_slope(z, act, slope, threshold);
    }
}

#define SUM_THREADS 256
#define WARP 32

// Sum of v over the block, returned to thread 0: shuffles inside each warp, then the warp
// totals go through shared memory and warp 0 adds them.  Fixed order -> reproducible.
__device__ float block_sum(float v)
{
    __shared__ float warp_totals[SUM_THREADS / WARP];
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    for (int off = WARP / 2; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    if (lane == 0) warp_totals[warp] = v;
    __syncthreads();
    v = threadIdx.x < blockDim.x / WARP ? warp_totals[lane] : 0.0f;
    if (warp == 0)
        for (int off = WARP / 2; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    return v;
}

// g is (outer, channels, inner).  Block (c, part) adds the elements of channel c whose
// position e in [0, outer * inner) falls in slice `part` of gridDim.y equal slices, and
// writes out[c * gridDim.y + part].  With gridDim.y == 1 that is the channel total; with
// more slices a second launch over (1, channels, gridDim.y) finishes the sum.  No atomics:
// every launch gives bit-identical results.  blockDim.x must be SUM_THREADS.
extern "C" __global__ void channel_sum(const float* __restrict__ g, float* __restrict__ out, int outer,
                                       int channels, int inner)
{
    int c = blockIdx.x;
    int total = outer * inner;
    int per_part = (total + gridDim.y - 1) / gridDim.y;
    int begin = blockIdx.y * per_part;
    int end = min(begin + per_part, total);
    float acc = 0.0f;
    for (int e = begin + threadIdx.x; e < end; e += blockDim.x) {
        int o = e / inner, k = e - o * inner;
        acc += g[(o * channels + c) * inner + k];
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) out[c * gridDim.y + blockIdx.y] = acc;
}
