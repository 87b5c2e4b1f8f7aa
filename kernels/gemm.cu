// Batched matrix product with a fused bias + activation epilogue (float32, float64):
//
//   C[z] = f(A[z] B[z] + b),   C[z][m, n] = f( sum_k A[z][m, k] B[z][k, n] + b[n] )
//
// A[z] is M x K, B[z] is K x N, C is C-contiguous (batch, M, N); b (N,) is optional and f is
// an activation code of activation.cuh.  The operands are strided views: element (m, k) of
// A[z] sits at a[z * a_sz + m * a_sm + k * a_sk] (b likewise with b_sz, b_sk, b_sn), so the
// products autograd needs, A B, A^T B and A B^T, read transposed views without a copy; a
// batch stride of 0 broadcasts one matrix over the batch.
//
// Tiling: each block of 16 x 16 threads owns a 64 x 64 tile of C.  It walks K in stages of
// 16: both operands' slices (64 x 16 of A, 16 x 64 of B) are copied to shared memory, then
// every thread accumulates its 4 x 4 outputs in registers, rows row0 + ty + 16 r and columns
// col0 + tx + 16 t (a warp reads 16 consecutive B values and 2 broadcast A values per step,
// and stores 16 consecutive C values).  Each output is summed over k in increasing order by
// one thread: deterministic, no atomics.
//
// The tile loads stay coalesced for every layout: an operand whose stride along k is 1 is
// read by consecutive threads walking k, one whose stride along m (for A) or n (for B) is 1
// by threads walking that axis; the unit stride is a template constant.  Neither stride 1 is
// the general fallback (both strides from the arguments, threads walking the axis of the
// smaller one).  Shared rows hold TILE + PAD = 66 elements (2 mod 32), so a warp walking
// k stores its 16 k x 2 rows into distinct banks.  Entry points gemm_<A><B>_<dtype>,
// with the BLAS letters for each operand:
//   A: n = k-stride 1 (row-major),  t = m-stride 1 (a transposed row-major matrix),  s = strided
//   B: n = n-stride 1 (row-major),  t = k-stride 1 (a transposed row-major matrix),  s = strided
//
// Grid (column tiles, row tiles, batch), each axis capped (loops with a grid stride), block (16, 16).

#include "activation.cuh"

#define TILE 64  // rows and columns of the C tile
#define BK 16    // depth of one shared-memory stage
#define TDIM 16  // the block is TDIM x TDIM threads
#define TM 4     // TILE / TDIM rows per thread
#define TN 4     // TILE / TDIM columns per thread
#define PAD 2    // pads the shared rows to 2 mod 32 so threads walking k hit distinct banks

// One operand viewed as X(i, k), i = m for A and n for B: element at x[i * si + k * sk].
// K_UNIT / I_UNIT say that sk / si is 1 (then the argument is ignored).
template <typename T, bool K_UNIT, bool I_UNIT>
struct Operand {
    const T* x;
    long long si, sk;
    int rows, K;

    __device__ __forceinline__ T at(int i, int k) const
    {
        return x[(long long)i * (I_UNIT ? 1 : si) + (long long)k * (K_UNIT ? 1 : sk)];
    }

    // Whether consecutive threads walk k: its stride is 1, or (neither being 1) the smaller one.
    __device__ __forceinline__ bool along_k() const
    {
        return K_UNIT || (!I_UNIT && (sk < 0 ? -sk : sk) < (si < 0 ? -si : si));
    }

    // S[kk][ii] = X(i0 + ii, k0 + kk) for the 64 x 16 slice at (i0, k0), 0 outside X.
    __device__ __forceinline__ void load(T (*S)[TILE + PAD], int i0, int k0) const
    {
        int tid = threadIdx.y * TDIM + threadIdx.x;
        bool walk_k = along_k();
        for (int e = tid; e < TILE * BK; e += TDIM * TDIM) {
            int kk = walk_k ? e % BK : e / TILE;
            int ii = walk_k ? e / BK : e % TILE;
            int i = i0 + ii, k = k0 + kk;
            S[kk][ii] = (i < rows && k < K) ? at(i, k) : T(0);
        }
    }
};

// acc = A[row0 : row0 + 64, :] B[:, col0 : col0 + 64] for this thread's 4 x 4 outputs.
template <typename T, class OpA, class OpB>
__device__ void tile_product(const OpA& a, const OpB& b, int K, int row0, int col0, T (*As)[TILE + PAD],
                             T (*Bs)[TILE + PAD], T acc[TM][TN])
{
    int tx = threadIdx.x, ty = threadIdx.y;
    for (int k0 = 0; k0 < K; k0 += BK) {
        a.load(As, row0, k0);
        b.load(Bs, col0, k0);
        __syncthreads();
        for (int kk = 0; kk < BK; ++kk) {
            T av[TM], bv[TN];
            for (int r = 0; r < TM; ++r) av[r] = As[kk][ty + TDIM * r];
            for (int t = 0; t < TN; ++t) bv[t] = Bs[kk][tx + TDIM * t];
            for (int r = 0; r < TM; ++r)
                for (int t = 0; t < TN; ++t) acc[r][t] += av[r] * bv[t];
        }
        __syncthreads();
    }
}

// C[z][m, n] = f(acc + b[n]) for this thread's outputs inside the M x N bounds.
template <typename T>
__device__ void store_tile(T* __restrict__ c, const T* __restrict__ bias, const T acc[TM][TN], int M, int N,
                           int row0, int col0, int has_bias, int act, T slope)
{
    for (int r = 0; r < TM; ++r) {
        int m = row0 + threadIdx.y + TDIM * r;
        if (m >= M) continue;
        for (int t = 0; t < TN; ++t) {
            int n = col0 + threadIdx.x + TDIM * t;
            if (n >= N) continue;
            T v = acc[r][t];
            if (has_bias) v += bias[n];
            c[(long long)m * N + n] = act_value(v, act, slope);
        }
    }
}

// The whole product: this block's (batch, row tile, column tile) triples, with the grid strides.
template <typename T, bool A_K_UNIT, bool A_M_UNIT, bool B_K_UNIT, bool B_N_UNIT>
__device__ void gemm(const T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ bias,
                     T* __restrict__ c, int batch, int M, int N, int K, int a_sz, int a_sm, int a_sk, int b_sz,
                     int b_sk, int b_sn, int has_bias, int act, T slope, T (*As)[TILE + PAD], T (*Bs)[TILE + PAD])
{
    for (int z = blockIdx.z; z < batch; z += gridDim.z) {
        Operand<T, A_K_UNIT, A_M_UNIT> opa = {a + (long long)z * a_sz, a_sm, a_sk, M, K};
        Operand<T, B_K_UNIT, B_N_UNIT> opb = {b + (long long)z * b_sz, b_sn, b_sk, N, K};
        T* cz = c + (long long)z * M * N;
        for (int row0 = blockIdx.y * TILE; row0 < M; row0 += gridDim.y * TILE)
            for (int col0 = blockIdx.x * TILE; col0 < N; col0 += gridDim.x * TILE) {
                T acc[TM][TN];
                for (int r = 0; r < TM; ++r)
                    for (int t = 0; t < TN; ++t) acc[r][t] = T(0);
                tile_product<T>(opa, opb, K, row0, col0, As, Bs, acc);
                store_tile<T>(cz, bias, acc, M, N, row0, col0, has_bias, act, slope);
            }
    }
}

// gemm_<A><B>_<suffix>: one entry point per layout pair and dtype (layout letters above).
#define GEMM_ENTRY(NAME, SUFFIX, T, A_K_UNIT, A_M_UNIT, B_K_UNIT, B_N_UNIT)                                  \
    extern "C" __global__ void NAME##_##SUFFIX(const T* __restrict__ a, const T* __restrict__ b,               \
                                               const T* __restrict__ bias, T* __restrict__ c, int batch,      \
                                               int M, int N, int K, int a_sz, int a_sm, int a_sk, int b_sz,   \
                                               int b_sk, int b_sn, int has_bias, int act, T slope)            \
    {                                                                                                         \
        __shared__ T As[BK][TILE + PAD];                                                                        \
        __shared__ T Bs[BK][TILE + PAD];                                                                        \
        gemm<T, A_K_UNIT, A_M_UNIT, B_K_UNIT, B_N_UNIT>(a, b, bias, c, batch, M, N, K, a_sz, a_sm, a_sk,       \
                                                        b_sz, b_sk, b_sn, has_bias, act, slope, As, Bs);       \
    }

#define GEMM_LAYOUTS(SUFFIX, T)                                      \
    GEMM_ENTRY(gemm_nn, SUFFIX, T, true, false, false, true)         \
    GEMM_ENTRY(gemm_nt, SUFFIX, T, true, false, true, false)         \
    GEMM_ENTRY(gemm_ns, SUFFIX, T, true, false, false, false)        \
    GEMM_ENTRY(gemm_tn, SUFFIX, T, false, true, false, true)         \
    GEMM_ENTRY(gemm_tt, SUFFIX, T, false, true, true, false)         \
    GEMM_ENTRY(gemm_ts, SUFFIX, T, false, true, false, false)        \
    GEMM_ENTRY(gemm_sn, SUFFIX, T, false, false, false, true)        \
    GEMM_ENTRY(gemm_st, SUFFIX, T, false, false, true, false)        \
    GEMM_ENTRY(gemm_ss, SUFFIX, T, false, false, false, false)

GEMM_LAYOUTS(f32, float)
GEMM_LAYOUTS(f64, double)
