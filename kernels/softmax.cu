// Softmax and log-softmax along one axis, their backward passes, and fused cross-entropy.
//
// x is viewed as columns o (every position of the other axes) times C classes along the axis:
// element (o, c) of operand k sits at layout_offset(lay, o, k) + c * stride_k (the wrapper passes
// a layout array of the other axes for every operand, output included, and each operand's
// stride along the axis).  Lanes and rows of a block and the shared-memory tree: reduce.cuh;
// one column per row group, so a launch handles any C and any number of columns.
//
//   softmax          y_c = exp(x_c - m) / sum_k exp(x_k - m),   m = max_k x_k
//   log_softmax      y_c = x_c - m - log(sum_k exp(x_k - m))
//   softmax back     dx_c = y_c (g_c - sum_k g_k y_k)
//   log_softmax back dx_c = g_c - exp(y_c) sum_k g_k
//   cross-entropy    logp = log_softmax(z) per row n,  q_c = (1 - eps) [c = y_n] + eps / C,
//                    loss_n = -sum_c q_c logp_c = -((1 - eps) logp_{y_n} + eps / C sum_c logp_c),
//                    dz_nc = (exp(logp_nc) - q_c) g_n;   a label outside [0, C) gives NaN
//                    (loss and gradient of that row), without a host-side check.

#include "reduce.cuh"

__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }
__device__ __forceinline__ float log_of(float v) { return logf(v); }
__device__ __forceinline__ double log_of(double v) { return log(v); }

// m = max_k x_k and s = sum_k exp(x_k - m) of one column (every thread of the block calls it).
template <class T>
__device__ void column_stats(T* buf, const T* x, int stride, int end, const Lanes& g, T& m, T& s)
{
    T v = Limits<T>::lowest();
    for (int c = g.lane; c < end; c += g.lanes) v = Max<T>::combine(v, x[c * stride]);
    m = block_tree<Max>(buf, v, g);
    T acc = T(0);
    for (int c = g.lane; c < end; c += g.lanes) acc += exp_of(x[c * stride] - m);
    s = block_tree<Sum>(buf, acc, g);
}

template <class T>
__device__ void softmax_columns(const T* __restrict__ x, T* __restrict__ y, const int* __restrict__ lay, int cols,
                                int classes, int sx, int sy, int lanes, int columns, int take_log)
{
    __shared__ T buf[REDUCE_THREADS];
    Lanes g = lanes_of(lanes, columns);
    for (int first = blockIdx.x * g.rows; first < cols; first += gridDim.x * g.rows) {
        int o = first + g.row;
        bool valid = o < cols;
        const T* xo = x + (valid ? layout_offset(lay, o, 0) : 0);
        T* yo = y + (valid ? layout_offset(lay, o, 1) : 0);
        int end = valid ? classes : 0;
        T m, s;
        column_stats(buf, xo, sx, end, g, m, s);
        T lse = log_of(s);
        for (int c = g.lane; c < end; c += lanes) {
            T shifted = xo[c * sx] - m;
            yo[c * sy] = take_log ? shifted - lse : exp_of(shifted) / s;
        }
    }
}

template <class T>
__device__ void softmax_back_columns(const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ dx,
                                     const int* __restrict__ lay, int cols, int classes, int sy, int sg, int sd,
                                     int lanes, int columns, int take_log)
{
    __shared__ T buf[REDUCE_THREADS];
    Lanes g = lanes_of(lanes, columns);
    for (int first = blockIdx.x * g.rows; first < cols; first += gridDim.x * g.rows) {
        int o = first + g.row;
        bool valid = o < cols;
        const T* yo = y + (valid ? layout_offset(lay, o, 0) : 0);
        const T* go = gy + (valid ? layout_offset(lay, o, 1) : 0);
        T* dxo = dx + (valid ? layout_offset(lay, o, 2) : 0);
        int end = valid ? classes : 0;
        T acc = T(0);
        for (int c = g.lane; c < end; c += lanes) acc += take_log ? go[c * sg] : go[c * sg] * yo[c * sy];
        T dot = block_tree<Sum>(buf, acc, g);
        for (int c = g.lane; c < end; c += lanes) {
            T yc = yo[c * sy], gc = go[c * sg];
            dxo[c * sd] = take_log ? gc - exp_of(yc) * dot : yc * (gc - dot);
        }
    }
}

// One row n of z (N, C) per row group (row mode); logp is written contiguous (N, C).
template <class T>
__device__ void cross_entropy_rows(const T* __restrict__ z, const long long* __restrict__ labels, T* __restrict__ loss,
                                   T* __restrict__ logp, int rows_n, int classes, int szn, int szc, int sl, int lanes,
                                   T eps)
{
    __shared__ T buf[REDUCE_THREADS];
    Lanes g = lanes_of(lanes, 0);
    for (int first = blockIdx.x * g.rows; first < rows_n; first += gridDim.x * g.rows) {
        int n = first + g.row;
        bool valid = n < rows_n;
        const T* zn = z + (valid ? n * szn : 0);
        T* lp = logp + (valid ? n * classes : 0);
        int end = valid ? classes : 0;
        T m, s;
        column_stats(buf, zn, szc, end, g, m, s);
        T lse = log_of(s);
        T acc = T(0);
        for (int c = g.lane; c < end; c += lanes) {
            T v = (zn[c * szc] - m) - lse;
            lp[c] = v;
            acc += v;
        }
        T total = eps != T(0) ? block_tree<Sum>(buf, acc, g) : T(0);  // eps is uniform: all or no barriers
        if (valid && g.lane == 0) {
            long long label = labels[n * sl];
            if (label < 0 || label >= classes) {
                loss[n] = Limits<T>::nan();
            } else {
                T picked = (zn[label * szc] - m) - lse;
                loss[n] = -((T(1) - eps) * picked + (eps != T(0) ? eps / T(classes) * total : T(0)));
            }
        }
    }
}

template <class T>
__device__ void cross_entropy_back_elements(const T* __restrict__ logp, const long long* __restrict__ labels,
                                            const T* __restrict__ gl, T* __restrict__ dz, int total, int classes,
                                            int spn, int spc, int sl, int sg, T eps)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        int n = i / classes, c = i - n * classes;
        long long label = labels[n * sl];
        T q = eps / T(classes) + (c == label ? T(1) - eps : T(0));
        T d = (exp_of(logp[n * spn + c * spc]) - q) * gl[n * sg];
        dz[i] = (label < 0 || label >= classes) ? Limits<T>::nan() : d;
    }
}

#define SOFTMAX_ENTRIES(SFX, T)                                                                                \
    extern "C" __global__ void softmax_forward_##SFX(const T* __restrict__ x, T* __restrict__ y,              \
                                                     const int* __restrict__ lay, int cols, int classes,      \
                                                     int sx, int sy, int lanes, int columns, int take_log)    \
    {                                                                                                          \
        softmax_columns<T>(x, y, lay, cols, classes, sx, sy, lanes, columns, take_log);                       \
    }                                                                                                          \
    extern "C" __global__ void softmax_backward_##SFX(const T* __restrict__ y, const T* __restrict__ gy,      \
                                                      T* __restrict__ dx, const int* __restrict__ lay,        \
                                                      int cols, int classes, int sy, int sg, int sd,          \
                                                      int lanes, int columns, int take_log)                   \
    {                                                                                                          \
        softmax_back_columns<T>(y, gy, dx, lay, cols, classes, sy, sg, sd, lanes, columns, take_log);         \
    }                                                                                                          \
    extern "C" __global__ void cross_entropy_forward_##SFX(const T* __restrict__ z,                           \
                                                           const long long* __restrict__ labels,              \
                                                           T* __restrict__ loss, T* __restrict__ logp,        \
                                                           int rows_n, int classes, int szn, int szc, int sl, \
                                                           int lanes, T eps)                                  \
    {                                                                                                          \
        cross_entropy_rows<T>(z, labels, loss, logp, rows_n, classes, szn, szc, sl, lanes, eps);              \
    }                                                                                                          \
    extern "C" __global__ void cross_entropy_backward_##SFX(const T* __restrict__ logp,                       \
                                                            const long long* __restrict__ labels,             \
                                                            const T* __restrict__ gl, T* __restrict__ dz,     \
                                                            int total, int classes, int spn, int spc, int sl, \
                                                            int sg, T eps)                                    \
    {                                                                                                          \
        cross_entropy_back_elements<T>(logp, labels, gl, dz, total, classes, spn, spc, sl, sg, eps);          \
    }

SOFTMAX_ENTRIES(f32, float)
SOFTMAX_ENTRIES(f64, double)
