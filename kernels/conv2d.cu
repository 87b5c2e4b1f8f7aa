// 2-D convolution (cross-correlation, as in PyTorch): forward, backward-data, backward-weight.
// float32, contiguous NCHW;  x (N, C, H, W),  w (F, C, kh, kw),  y (N, F, OH, OW),  stride (sh, sw),
// dilation (dh, dw), padding ph rows on top and pw columns on the left:
//   y[n, f, oh, ow] = b[f] + sum_{c, i, j} w[f, c, i, j] * x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
// (x is zero outside the image).  The host computes OH, OW from the total padding (top + bottom,
// left + right; gpudl/cpu/geometry.py), so the bottom / right padding ('same' with an even
// dilated kernel pads one more there) needs no argument: it is whatever lies below / right of the
// image.  Every sum below is a matrix product once the receptive fields are laid out as columns:
//   col[k, q],  k = (c, i, j) in 0..C*kh*kw-1,  q = (n, oh, ow) in 0..N*OH*OW-1
//   forward          Y (F, q)      = W (F, k)   @ col (k, q)
//   backward-data    dcol (k, q)   = W^T (k, F) @ dY (F, q),   dx = col2im(dcol)
//   backward-weight  dW (F, k)     = dY (F, q)  @ col^T (q, k)
//
// Two algorithms share this file:
//  (a) im2col / col2im materialise col (C*kh*kw x N*OH*OW floats) and the host does the
//      matrix product with cuBLAS / BLAS.  col2im is a gather (one thread per input pixel),
//      so it needs no atomics and is deterministic.
//  (b) the *_tiled kernels are an implicit GEMM: each 16x16-thread block computes a 64x64
//      tile of the product, staging 64x16 slices of both operands in shared memory; the col
//      operand is gathered straight from x (or dY) while loading, so col never exists.
//      Each operand is loaded along the index in which its memory is contiguous (coalesced).
//      Each thread accumulates a 4x4 register sub-tile.  backward-weight sums over the long
//      q axis, so it is split into gridDim.z chunks written to separate partial tiles that the
//      host adds in a fixed order (split-K without atomics -> deterministic).

struct ConvShape {
    int N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;
};

__device__ __forceinline__ ConvShape make_shape(int N, int C, int H, int W, int F, int kh, int kw, int sh,
                                                int sw, int ph, int pw, int dh, int dw, int OH, int OW)
{
    ConvShape s = {N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW};
    return s;
}

// col[k, q]: tap k = (c, i, j) of the receptive field of output q = (n, oh, ow); 0 in the padding.
__device__ __forceinline__ float col_value(const float* __restrict__ x, const ConvShape& s, int k, int q)
{
    int j = k % s.kw, i = (k / s.kw) % s.kh, c = k / (s.kw * s.kh);
    int ow = q % s.OW, oh = (q / s.OW) % s.OH, n = q / (s.OW * s.OH);
    int ih = oh * s.sh - s.ph + i * s.dh, iw = ow * s.sw - s.pw + j * s.dw;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) return 0.0f;
    return x[((size_t)(n * s.C + c) * s.H + ih) * s.W + iw];
}

// ---------------------------------------------------------------- (a) im2col / col2im

// col (C*kh*kw, N*OH*OW) from x.
extern "C" __global__ void im2col(const float* __restrict__ x, float* __restrict__ col, int N, int C, int H,
                                  int W, int F, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                                  int OH, int OW)
{
    ConvShape s = make_shape(N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW);
    int cols = N * OH * OW;
    int n = C * kh * kw * cols;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x)
        col[e] = col_value(x, s, e / cols, e % cols);
}

// dx[n, c, ih, iw] = sum of dcol[(c, i, j), (n, oh, ow)] over the taps (i, j) and outputs
// (oh, ow) with oh*sh - ph + i*dh = ih and ow*sw - pw + j*dw = iw.
extern "C" __global__ void col2im(const float* __restrict__ col, float* __restrict__ dx, int N, int C, int H,
                                  int W, int F, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                                  int OH, int OW)
{
    int cols = N * OH * OW;
    int n = N * C * H * W;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
        int iw = e % W, ih = (e / W) % H, c = (e / (W * H)) % C, img = e / (W * H * C);
        float acc = 0.0f;
        for (int i = 0; i < kh; ++i) {
            int th = ih + ph - i * dh;  // = oh * sh
            if (th < 0 || th % sh != 0 || th / sh >= OH) continue;
            for (int j = 0; j < kw; ++j) {
                int tw = iw + pw - j * dw;  // = ow * sw
                if (tw < 0 || tw % sw != 0 || tw / sw >= OW) continue;
                int k = (c * kh + i) * kw + j;
                int q = (img * OH + th / sh) * OW + tw / sw;
                acc += col[(size_t)k * cols + q];
            }
        }
        dx[e] = acc;
    }
}

// ---------------------------------------------------------------- (b) tiled implicit GEMM

#define BM 64    // rows of the output tile
#define BN 64    // columns of the output tile
#define BK 16    // depth of one shared-memory stage
#define TDIM 16  // the block is TDIM x TDIM threads
#define TM 4     // BM / TDIM rows per thread
#define TN 4     // BN / TDIM columns per thread
#define STAGE_PAD 2  // words after each row of a shared stage (see gemm_tile)

// Element e of a BK x n stage: (kk, i) with consecutive e walking along k (along_k) or along i.
template <bool along_k>
__device__ __forceinline__ void stage_index(int e, int n, int* kk, int* i)
{
    *kk = along_k ? e % BK : e / n;
    *i = along_k ? e / BK : e % n;
}

// C_tile += A[rows, k_begin:k_end] @ B[k_begin:k_end, cols] for this block's 64x64 tile.
// Thread (tx, ty) owns rows row0 + ty + 16 i and columns col0 + tx + 16 j (i, j < 4), so a
// warp reads 16 consecutive B values and 2 broadcast A values per step (no bank conflicts).
// a(m, k) and b(k, q) are functors that gather the operands; out-of-range entries load 0.
// Each is staged along its `along_k` index (consecutive threads read neighbouring addresses).
// A stage row is 64 + STAGE_PAD = 66 words (2 mod 32): a warp walking along k stores 16 k x 2 rows
// into banks 2 kk + i (all distinct), one walking along the row 32 consecutive words.
template <class LoadA, class LoadB>
__device__ void gemm_tile(const LoadA& a, const LoadB& b, int M, int Q, int k_begin, int k_end, int row0,
                          int col0, float (*As)[BM + STAGE_PAD], float (*Bs)[BN + STAGE_PAD], float acc[TM][TN])
{
    int tx = threadIdx.x, ty = threadIdx.y, tid = ty * TDIM + tx;
    for (int k0 = k_begin; k0 < k_end; k0 += BK) {
        for (int e = tid; e < BM * BK; e += TDIM * TDIM) {
            int kk, m;
            stage_index<LoadA::along_k>(e, BM, &kk, &m);
            As[kk][m] = (row0 + m < M && k0 + kk < k_end) ? a(row0 + m, k0 + kk) : 0.0f;
        }
        for (int e = tid; e < BK * BN; e += TDIM * TDIM) {
            int kk, qq;
            stage_index<LoadB::along_k>(e, BN, &kk, &qq);
            Bs[kk][qq] = (col0 + qq < Q && k0 + kk < k_end) ? b(k0 + kk, col0 + qq) : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < BK; ++kk) {
            float av[TM], bv[TN];
            for (int r = 0; r < TM; ++r) av[r] = As[kk][ty + TDIM * r];
            for (int t = 0; t < TN; ++t) bv[t] = Bs[kk][tx + TDIM * t];
            for (int r = 0; r < TM; ++r)
                for (int t = 0; t < TN; ++t) acc[r][t] += av[r] * bv[t];
        }
        __syncthreads();
    }
}

// Forward operands:  A = W viewed as (F, C*kh*kw),  B = col(x).
struct WeightRows {
    static constexpr bool along_k = true;  // w[f, k]: k is contiguous
    const float* w;
    int K;
    __device__ float operator()(int f, int k) const { return w[(size_t)f * K + k]; }
};

struct ImageCols {
    static constexpr bool along_k = false;  // neighbouring q are neighbouring pixels
    const float* x;
    ConvShape s;
    __device__ float operator()(int k, int q) const { return col_value(x, s, k, q); }
};

// Backward-data operands, with r = (f, i, j) in 0..F*kh*kw-1 and q = (n, ih, iw):
//   A[c, r] = w[f, c, i, j],   B[r, q] = dY[n, f, oh, ow] where oh*sh - ph + i*dh = ih and
//   ow*sw - pw + j*dw = iw (0 when no such output exists).
struct WeightTaps {
    static constexpr bool along_k = true;  // the taps r of one filter are contiguous
    const float* w;
    ConvShape s;
    __device__ float operator()(int c, int r) const
    {
        int taps = s.kh * s.kw, f = r / taps;
        return w[((size_t)f * s.C + c) * taps + r % taps];
    }
};

struct GradCols {
    static constexpr bool along_k = false;  // neighbouring q (pixels) read neighbouring dY entries
    const float* gy;
    ConvShape s;
    __device__ float operator()(int r, int q) const
    {
        int j = r % s.kw, i = (r / s.kw) % s.kh, f = r / (s.kw * s.kh);
        int iw = q % s.W, ih = (q / s.W) % s.H, n = q / (s.W * s.H);
        int th = ih + s.ph - i * s.dh, tw = iw + s.pw - j * s.dw;
        if (th < 0 || tw < 0 || th % s.sh != 0 || tw % s.sw != 0) return 0.0f;
        int oh = th / s.sh, ow = tw / s.sw;
        if (oh >= s.OH || ow >= s.OW) return 0.0f;
        return gy[((size_t)(n * s.F + f) * s.OH + oh) * s.OW + ow];
    }
};

// Backward-weight operands, with p = (n, oh, ow):  A[f, p] = dY[n, f, oh, ow],  B[p, k] = col[k, p].
struct GradRows {
    static constexpr bool along_k = true;  // dY[n, f, :, :]: p is contiguous
    const float* gy;
    ConvShape s;
    __device__ float operator()(int f, int p) const
    {
        int hw = s.OH * s.OW, n = p / hw;
        return gy[((size_t)n * s.F + f) * hw + p % hw];
    }
};

struct ImageRows {
    static constexpr bool along_k = true;  // neighbouring p are neighbouring pixels
    const float* x;
    ConvShape s;
    __device__ float operator()(int p, int k) const { return col_value(x, s, k, p); }
};

// y (N, F, OH, OW) = conv(x, w) + b.  Grid (ceil(N*OH*OW / 64), ceil(F / 64)), block (16, 16).
extern "C" __global__ void conv2d_forward_tiled(const float* __restrict__ x, const float* __restrict__ w,
                                                const float* __restrict__ bias, float* __restrict__ y,
                                                int N, int C, int H, int W, int F, int kh,
                                                int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                                                int OH, int OW, int has_bias)
{
    __shared__ float As[BK][BM + STAGE_PAD];
    __shared__ float Bs[BK][BN + STAGE_PAD];
    ConvShape s = make_shape(N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW);
    int K = C * kh * kw, Q = N * OH * OW, hw = OH * OW;
    int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    float acc[TM][TN] = {};
    WeightRows a = {w, K};
    ImageCols b = {x, s};
    gemm_tile(a, b, F, Q, 0, K, row0, col0, As, Bs, acc);
    for (int r = 0; r < TM; ++r) {
        int f = row0 + threadIdx.y + TDIM * r;
        if (f >= F) continue;
        float add = has_bias ? bias[f] : 0.0f;
        for (int t = 0; t < TN; ++t) {
            int q = col0 + threadIdx.x + TDIM * t;
            if (q < Q) y[((size_t)(q / hw) * F + f) * hw + q % hw] = acc[r][t] + add;
        }
    }
}

// dx (N, C, H, W) from dy.  Grid (ceil(N*H*W / 64), ceil(C / 64)), block (16, 16).
extern "C" __global__ void conv2d_backward_data_tiled(const float* __restrict__ grad_y, const float* __restrict__ w,
                                                      float* __restrict__ grad_x, int N, int C, int H,
                                                      int W, int F, int kh, int kw, int sh, int sw, int ph,
                                                      int pw, int dh, int dw, int OH, int OW)
{
    __shared__ float As[BK][BM + STAGE_PAD];
    __shared__ float Bs[BK][BN + STAGE_PAD];
    ConvShape s = make_shape(N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW);
    int R = F * kh * kw, Q = N * H * W, hw = H * W;
    int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    float acc[TM][TN] = {};
    WeightTaps a = {w, s};
    GradCols b = {grad_y, s};
    gemm_tile(a, b, C, Q, 0, R, row0, col0, As, Bs, acc);
    for (int r = 0; r < TM; ++r) {
        int c = row0 + threadIdx.y + TDIM * r;
        if (c >= C) continue;
        for (int t = 0; t < TN; ++t) {
            int q = col0 + threadIdx.x + TDIM * t;
            if (q < Q) grad_x[((size_t)(q / hw) * C + c) * hw + q % hw] = acc[r][t];
        }
    }
}

// partial[z] (F, C*kh*kw) = dY @ col^T restricted to p in [z * chunk, (z + 1) * chunk);
// the host sums the gridDim.z partials.  chunk must be a multiple of BK.
// Grid (ceil(C*kh*kw / 64), ceil(F / 64), splits), block (16, 16).
extern "C" __global__ void conv2d_backward_weight_tiled(const float* __restrict__ grad_y,
                                                        const float* __restrict__ x, float* __restrict__ partial,
                                                        int N, int C, int H, int W, int F, int kh,
                                                        int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                                                        int OH, int OW, int chunk)
{
    __shared__ float As[BK][BM + STAGE_PAD];
    __shared__ float Bs[BK][BN + STAGE_PAD];
    ConvShape s = make_shape(N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW);
    int K = C * kh * kw, P = N * OH * OW;
    int p_begin = blockIdx.z * chunk, p_end = min(p_begin + chunk, P);
    int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    float acc[TM][TN] = {};
    GradRows a = {grad_y, s};
    ImageRows b = {x, s};
    gemm_tile(a, b, F, K, p_begin, p_end, row0, col0, As, Bs, acc);
    float* out = partial + (size_t)blockIdx.z * F * K;
    for (int r = 0; r < TM; ++r) {
        int f = row0 + threadIdx.y + TDIM * r;
        if (f >= F) continue;
        for (int t = 0; t < TN; ++t) {
            int k = col0 + threadIdx.x + TDIM * t;
            if (k < K) out[(size_t)f * K + k] = acc[r][t];
        }
    }
}
