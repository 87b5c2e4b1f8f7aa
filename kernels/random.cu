// Counter-based random numbers: Philox-4x32-10 (philox.cuh).
//
// A draw is a pure function of (key, counter): no per-thread state, so every element of a draw
// is computed independently and the result does not depend on the launch configuration.
//
// The generator state is a uint64 device array [seed, offset]; key = (seed lo, seed hi).
// The kernels read the offset from device memory (a replayed CUDA graph sees the advanced
// value) and `philox_advance` moves it past the counters a draw used:
//
//   uniform   element i: word i % 4 of Philox(key, offset + i / 4);  u = (w >> 8) 2^-24 in [0, 1)
//   normal    element i: words (0, 1) of Philox(key, offset + i / 2);
//             u1 = ((w0 >> 8) + 1) 2^-24 in (0, 1],  u2 = (w1 >> 8) 2^-24,  r = sqrt(-2 ln u1)
//             (Box-Muller) even i -> r cos(2 pi u2), odd i -> r sin(2 pi u2)
//   dropout   mask_i = [u_i >= p] / (1 - p),  y_i = x_i mask_i   (u_i the uniform stream; at p = 1 no
//             u_i >= 1, so every mask_i is 0 and the wrapper passes scale 0 instead of dividing by 0)
//
// A counter c (64 bits) is the 4x32 counter (c lo, c hi, 0, 0).

#include "layout.cuh"
#include "philox.cuh"

#define TWO_PI_F 6.2831853071795864769f

// The block of counter offset + q for the generator state [seed, offset].
__device__ __forceinline__ Philox4 philox_at(const unsigned long long* state, unsigned long long q)
{
    unsigned long long seed = state[0], c = state[1] + q;
    return philox4x32_10((unsigned int)c, (unsigned int)(c >> 32), 0u, 0u, (unsigned int)seed,
                         (unsigned int)(seed >> 32));
}

// Philox of m explicit counters (m, 4) under key (k0, k1) -> out (m, 4): the known-answer path.
extern "C" __global__ void philox_words(const unsigned int* __restrict__ counters, unsigned int k0, unsigned int k1,
                                        unsigned int* __restrict__ out, int m)
{
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < m; q += gridDim.x * blockDim.x) {
        const unsigned int* c = counters + 4 * q;
        Philox4 b = philox4x32_10(c[0], c[1], c[2], c[3], k0, k1);
        for (int j = 0; j < 4; ++j) out[4 * q + j] = b.w[j];
    }
}

// out[i] = u_i for i < n: one thread per counter, four elements each.
extern "C" __global__ void philox_uniform(const unsigned long long* __restrict__ state, float* __restrict__ out,
                                          int n)
{
    int blocks4 = (n + 3) / 4;
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < blocks4; q += gridDim.x * blockDim.x) {
        Philox4 b = philox_at(state, (unsigned long long)q);
        for (int j = 0; j < 4 && 4 * q + j < n; ++j) out[4 * q + j] = uniform_of(b.w[j]);
    }
}

// out[i] = Box-Muller normal i for i < n: one thread per counter, a (cos, sin) pair each.
extern "C" __global__ void philox_normal(const unsigned long long* __restrict__ state, float* __restrict__ out,
                                         int n)
{
    int pairs = (n + 1) / 2;
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < pairs; q += gridDim.x * blockDim.x) {
        Philox4 b = philox_at(state, (unsigned long long)q);
        float u1 = (float)((b.w[0] >> 8) + 1u) * TWO_POW_M24;
        float u2 = uniform_of(b.w[1]);
        float r = sqrtf(-2.0f * logf(u1));
        float theta = TWO_PI_F * u2;
        out[2 * q] = r * cosf(theta);
        if (2 * q + 1 < n) out[2 * q + 1] = r * sinf(theta);
    }
}

// offset += step, after the draw that used counters offset .. offset + step - 1 (one thread;
// launched after the draw on the same stream, so the draw has read the old offset).
extern "C" __global__ void philox_advance(unsigned long long* __restrict__ state, int step)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) state[1] += (unsigned long long)step;
}

// mask_i = [u_i >= p] * scale (scale = 1 / (1 - p), 0 at p = 1), y_i = x_i mask_i; x is read through layout.
template <class T>
__device__ void dropout_body(const unsigned long long* state, const T* x, const int* layout, T* y, T* mask, int n,
                             float p, T scale)
{
    int blocks4 = (n + 3) / 4;
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < blocks4; q += gridDim.x * blockDim.x) {
        Philox4 b = philox_at(state, (unsigned long long)q);
        for (int j = 0; j < 4 && 4 * q + j < n; ++j) {
            int i = 4 * q + j;
            T m = uniform_of(b.w[j]) >= p ? scale : T(0);
            mask[i] = m;
            y[i] = x[layout_offset(layout, i, 0)] * m;
        }
    }
}

#define DROPOUT_KERNEL(T, S)                                                                                \
    extern "C" __global__ void dropout_forward_##S(const unsigned long long* __restrict__ state,           \
                                                   const T* __restrict__ x, const int* __restrict__ layout, \
                                                   T* __restrict__ y, T* __restrict__ mask, int n, float p, \
                                                   T scale)                                                 \
    {                                                                                                       \
        dropout_body<T>(state, x, layout, y, mask, n, p, scale);                                            \
    }

DROPOUT_KERNEL(float, f32)
DROPOUT_KERNEL(double, f64)
