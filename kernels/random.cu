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
//
// Coalesced stores: a block's RNG_THREADS threads take consecutive counters and put their values in a
// shared tile (thread t at elements 4t + j, 2t + j for normal), then, after __syncthreads, consecutive
// threads write consecutive elements.  Element e sits in slot RNG_PAD(e): both phases are bank-conflict
// free.  The loops step over whole tiles (block-uniform bound), so all threads reach every __syncthreads.

#include "layout.cuh"
#include "philox.cuh"

#define TWO_PI_F 6.2831853071795864769f
#define RNG_THREADS 256                     // blockDim.x of the draw kernels (gpudl/gpu/random.py: THREADS)
#define RNG_PAD(e) ((e) + (e) / 32)         // tile element e -> its shared-memory slot
#define RNG_SLOTS RNG_PAD(4 * RNG_THREADS)  // slots of a tile of up to 4 elements per thread

// The block of counter offset + q for the generator state [seed, offset].
__device__ __forceinline__ Philox4 philox_at(const unsigned long long* state, unsigned long long q)
{
    unsigned long long seed = state[0], c = state[1] + q;
    return philox4x32_10((unsigned int)c, (unsigned int)(c >> 32), 0u, 0u, (unsigned int)seed,
                         (unsigned int)(seed >> 32));
}

// Thread t's share of the tile of counters base ..: the four words of counter base + t (when < blocks4).
__device__ __forceinline__ void stage_words(const unsigned long long* state, int base, int blocks4,
                                            unsigned int* tile)
{
    int t = threadIdx.x;
    if (base + t < blocks4) {
        Philox4 b = philox_at(state, (unsigned long long)(base + t));
        for (int j = 0; j < 4; ++j) tile[RNG_PAD(4 * t + j)] = b.w[j];
    }
}

// Philox of m explicit counters (m, 4) under key (k0, k1) -> out (m, 4): the known-answer path.
extern "C" __global__ void philox_words(const unsigned int* __restrict__ counters, unsigned int k0, unsigned int k1,
                                        unsigned int* __restrict__ out, int m)
{
    __shared__ unsigned int tile[RNG_SLOTS];
    int t = threadIdx.x;
    for (int base = blockIdx.x * RNG_THREADS; base < m; base += gridDim.x * RNG_THREADS) {
        int words = 4 * min(RNG_THREADS, m - base);
        for (int e = t; e < words; e += RNG_THREADS) tile[RNG_PAD(e)] = counters[4 * base + e];  // coalesced
        __syncthreads();
        if (base + t < m) {
            Philox4 b = philox4x32_10(tile[RNG_PAD(4 * t)], tile[RNG_PAD(4 * t + 1)], tile[RNG_PAD(4 * t + 2)],
                                      tile[RNG_PAD(4 * t + 3)], k0, k1);
            for (int j = 0; j < 4; ++j) tile[RNG_PAD(4 * t + j)] = b.w[j];  // only this thread's slots
        }
        __syncthreads();
        for (int e = t; e < words; e += RNG_THREADS) out[4 * base + e] = tile[RNG_PAD(e)];
        __syncthreads();
    }
}

// out[i] = u_i for i < n: one thread per counter, four elements each.
extern "C" __global__ void philox_uniform(const unsigned long long* __restrict__ state, float* __restrict__ out,
                                          int n)
{
    __shared__ unsigned int tile[RNG_SLOTS];
    int blocks4 = (n + 3) / 4;
    for (int base = blockIdx.x * RNG_THREADS; base < blocks4; base += gridDim.x * RNG_THREADS) {
        stage_words(state, base, blocks4, tile);
        __syncthreads();
        int count = min(4 * RNG_THREADS, n - 4 * base);
        for (int e = threadIdx.x; e < count; e += RNG_THREADS) out[4 * base + e] = uniform_of(tile[RNG_PAD(e)]);
        __syncthreads();
    }
}

// out[i] = Box-Muller normal i for i < n: one thread per counter, a (cos, sin) pair each.
extern "C" __global__ void philox_normal(const unsigned long long* __restrict__ state, float* __restrict__ out,
                                         int n)
{
    __shared__ float tile[RNG_PAD(2 * RNG_THREADS)];
    int t = threadIdx.x, pairs = (n + 1) / 2;
    for (int base = blockIdx.x * RNG_THREADS; base < pairs; base += gridDim.x * RNG_THREADS) {
        if (base + t < pairs) {
            Philox4 b = philox_at(state, (unsigned long long)(base + t));
            float u1 = (float)((b.w[0] >> 8) + 1u) * TWO_POW_M24;
            float u2 = uniform_of(b.w[1]);
            float r = sqrtf(-2.0f * logf(u1));
            float theta = TWO_PI_F * u2;
            tile[RNG_PAD(2 * t)] = r * cosf(theta);
            tile[RNG_PAD(2 * t + 1)] = r * sinf(theta);
        }
        __syncthreads();
        int count = min(2 * RNG_THREADS, n - 2 * base);
        for (int e = t; e < count; e += RNG_THREADS) out[2 * base + e] = tile[RNG_PAD(e)];
        __syncthreads();
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
    __shared__ unsigned int tile[RNG_SLOTS];
    int blocks4 = (n + 3) / 4;
    for (int base = blockIdx.x * RNG_THREADS; base < blocks4; base += gridDim.x * RNG_THREADS) {
        stage_words(state, base, blocks4, tile);
        __syncthreads();
        int count = min(4 * RNG_THREADS, n - 4 * base);
        for (int e = threadIdx.x; e < count; e += RNG_THREADS) {
            int i = 4 * base + e;
            T m = uniform_of(tile[RNG_PAD(e)]) >= p ? scale : T(0);
            mask[i] = m;
            y[i] = x[layout_offset(layout, i, 0)] * m;
        }
        __syncthreads();
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
