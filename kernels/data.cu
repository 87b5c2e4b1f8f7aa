// Data kernels: the shuffled order of an epoch, the gather of a batch from device-resident arrays,
// and the batch augmentations (random crop / translation, horizontal flip, to float).
//
// Epoch order: a keyed bijection of [0, n), computed per position with no table and no sort.
// With 2h bits (the smallest even count with 2^(2h) >= n, h >= 1), position i is split into
// halves (L, R) of h bits and goes through a 4-round Feistel network under round keys k_0..k_3:
//
//     (L, R) <- (R,  L ^ (mix32(R ^ k_r) & (2^h - 1)))          r = 0, 1, 2, 3
//
// Each round is invertible, so this permutes [0, 2^(2h)); "cycle walking" (apply it again while
// the value is >= n) turns it into a permutation of [0, n), on average fewer than 4 applications.
// mix32 is the "lowbias32" multiply-xorshift integer hash.  The keys come from (seed, epoch) on the
// host (gpudl/cpu/data.py `feistel_keys`), so an epoch's order is fixed by two integers.
//
// Augmentations draw per sample n from Philox(counter = (call lo, call hi, n, 0), key = (seed lo,
// seed hi)): a transform's seed and its call number fix every choice, nothing is read back.
//
//   random_crop   top_n = (w0 * (Hp - h + 1)) >> 32,  left_n = (w1 * (Wp - w + 1)) >> 32
//                 out[n, c, i, j] = x[n, c, top_n + i - ph, left_n + j - pw]   (0 outside x)
//                 with Hp = H + 2 ph, Wp = W + 2 pw: a window of the zero-padded image
//   random_hflip  flip_n = [u(w0) < p]:  out[n, c, i, j] = x[n, c, i, W - 1 - j] if flip_n else x
//   to_float      y = (T) x * scale
//
// Gathers and augmentations only move elements, so they are instantiated per element size
// (w1, w2, w4, w8: 1, 2, 4, 8 bytes) and serve every dtype, uint8 images included.

#include "philox.cuh"

__device__ __forceinline__ unsigned int mix32(unsigned int x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// One pass of the 4-round Feistel network over 2h-bit values.
__device__ __forceinline__ unsigned long long feistel(unsigned long long v, int h, unsigned int k0, unsigned int k1,
                                                      unsigned int k2, unsigned int k3)
{
    unsigned long long mask = (1ull << h) - 1ull;
    unsigned long long left = v >> h, right = v & mask;
    unsigned int keys[4] = {k0, k1, k2, k3};
    for (int r = 0; r < 4; ++r) {
        unsigned long long next = left ^ ((unsigned long long)mix32((unsigned int)right ^ keys[r]) & mask);
        left = right;
        right = next;
    }
    return (left << h) | right;
}

// out[i] = order(start + i) for i < count: the epoch's permutation of [0, n) (cycle walking);
// h = 0 is the identity order (no shuffling).
extern "C" __global__ void permutation(long long* __restrict__ out, long long n, long long start, int count, int h,
                                       unsigned int k0, unsigned int k1, unsigned int k2, unsigned int k3)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) {
        unsigned long long v = (unsigned long long)(start + i);
        while (h > 0) {
            v = feistel(v, h, k0, k1, k2, k3);
            if (v < (unsigned long long)n) break;
        }
        out[i] = (long long)v;
    }
}

// out[i, r] = src[rows[i], r]: whole rows of `width` elements.
template <class W>
__device__ void gather_rows_body(const W* src, const long long* rows, W* out, int count, int width)
{
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < count * width; t += gridDim.x * blockDim.x) {
        int i = t / width, r = t - i * width;
        out[t] = src[rows[i] * (long long)width + r];
    }
}

// The window of the zero-padded image for each sample (x and out are (N, C, H, W) / (N, C, h, w)).
template <class W>
__device__ void random_crop_body(const W* x, W* out, int total, int C, int H, int Wd, int h, int w, int ph, int pw,
                                 unsigned int s0, unsigned int s1, unsigned int c0, unsigned int c1)
{
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
        int j = t % w, i = (t / w) % h, n = t / (w * h * C), c = (t / (w * h)) % C;
        Philox4 b = philox4x32_10(c0, c1, (unsigned int)n, 0u, s0, s1);
        int top = (int)(((unsigned long long)b.w[0] * (unsigned int)(H + 2 * ph - h + 1)) >> 32);
        int left = (int)(((unsigned long long)b.w[1] * (unsigned int)(Wd + 2 * pw - w + 1)) >> 32);
        int row = top + i - ph, col = left + j - pw;
        bool inside = row >= 0 && row < H && col >= 0 && col < Wd;
        out[t] = inside ? x[(((long long)n * C + c) * H + row) * Wd + col] : W(0);
    }
}

// Each sample mirrored left-right with probability p (x and out are (N, rows, W)).
template <class W>
__device__ void random_hflip_body(const W* x, W* out, int total, int rows, int Wd, float p, unsigned int s0,
                                  unsigned int s1, unsigned int c0, unsigned int c1)
{
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
        int j = t % Wd, n = t / (Wd * rows);
        Philox4 b = philox4x32_10(c0, c1, (unsigned int)n, 0u, s0, s1);
        out[t] = uniform_of(b.w[0]) < p ? x[t - j + (Wd - 1 - j)] : x[t];
    }
}

#define MOVE_KERNELS(W, S)                                                                                     \
    extern "C" __global__ void gather_rows_##S(const W* __restrict__ src, const long long* __restrict__ rows,   \
                                               W* __restrict__ out, int count, int width)                       \
    {                                                                                                          \
        gather_rows_body<W>(src, rows, out, count, width);                                                     \
    }                                                                                                          \
    extern "C" __global__ void random_crop_##S(const W* __restrict__ x, W* __restrict__ out, int total, int C,  \
                                               int H, int Wd, int h, int w, int ph, int pw, unsigned int s0,    \
                                               unsigned int s1, unsigned int c0, unsigned int c1)               \
    {                                                                                                          \
        random_crop_body<W>(x, out, total, C, H, Wd, h, w, ph, pw, s0, s1, c0, c1);                            \
    }                                                                                                          \
    extern "C" __global__ void random_hflip_##S(const W* __restrict__ x, W* __restrict__ out, int total,        \
                                                int rows, int Wd, float p, unsigned int s0, unsigned int s1,    \
                                                unsigned int c0, unsigned int c1)                               \
    {                                                                                                          \
        random_hflip_body<W>(x, out, total, rows, Wd, p, s0, s1, c0, c1);                                      \
    }

MOVE_KERNELS(unsigned char, w1)
MOVE_KERNELS(unsigned short, w2)
MOVE_KERNELS(unsigned int, w4)
MOVE_KERNELS(unsigned long long, w8)

#define TO_FLOAT_KERNEL(I, SI, T, ST)                                                                    \
    extern "C" __global__ void to_float_##SI##_##ST(const I* __restrict__ x, T* __restrict__ y, int n,  \
                                                    T scale)                                            \
    {                                                                                                   \
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)          \
            y[i] = (T)x[i] * scale;                                                                     \
    }

#define TO_FLOAT_KERNELS(I, SI) TO_FLOAT_KERNEL(I, SI, float, f32) TO_FLOAT_KERNEL(I, SI, double, f64)

TO_FLOAT_KERNELS(unsigned char, u8)
TO_FLOAT_KERNELS(int, i32)
TO_FLOAT_KERNELS(long long, i64)
TO_FLOAT_KERNELS(float, f32)
TO_FLOAT_KERNELS(double, f64)
