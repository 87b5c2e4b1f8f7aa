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
//   cross-entropy    logp = log_softmax(z) per row n, class weights w_c (all 1 without `weight`),
//                    w_n = w_{y_n} the weight of the row's label, W = sum_c w_c:
//                    loss_n = -((1 - eps) w_n logp_{y_n} + eps / C sum_c w_c logp_c)
//                    dz_nc = ((1 - eps) w_n (p_nc - [c = y_n]) + eps / C (W p_nc - w_c)) g_n,  p = exp(logp)
//                    (unweighted: loss_n = -sum_c q_c logp_c, dz = (p - q) g, q_c = (1 - eps) [c = y_n] + eps / C)
//   nll              loss_n = -w_n x_{n, y_n},   dx_nc = -w_n [c = y_n] g_n
//   both             a row whose label is ignore_index has loss 0, gradient 0 and w_n = 0; a label
//                    outside [0, C) that is not ignore_index gives NaN (loss, w_n and gradient of that
//                    row), without a host-side check.  w_n is written out: the 'mean' reduction is
//                    sum_n loss_n / sum_n w_n (PyTorch's weighted mean over the rows not ignored).

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

// w_n: weight[label] (1 without weights), 0 when label == ignore_index, NaN when the label lies
// outside [0, C) and is not ignore_index.
template <class T>
__device__ __forceinline__ T label_weight(long long label, int classes, long long ignore_index,
                                          const T* __restrict__ weight, int sw, int has_weight)
{
    if (label == ignore_index) return T(0);
    if (label < 0 || label >= classes) return Limits<T>::nan();
    return has_weight ? weight[label * sw] : T(1);
}

// One row n of z (N, C) per row group (row mode); logp is written contiguous (N, C).
template <class T>
__device__ void cross_entropy_rows(const T* __restrict__ z, const long long* __restrict__ labels,
                                   const T* __restrict__ weight, T* __restrict__ loss, T* __restrict__ row_weight,
                                   T* __restrict__ logp, int rows_n, int classes, int szn, int szc, int sl, int sw,
                                   int lanes, T eps, int has_weight, long long ignore_index)
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
            acc += has_weight ? weight[c * sw] * v : v;
        }
        T total = eps != T(0) ? block_tree<Sum>(buf, acc, g) : T(0);  // eps is uniform: all or no barriers
        if (valid && g.lane == 0) {
            long long label = labels[n * sl];
            T w = label_weight(label, classes, ignore_index, weight, sw, has_weight);
            T value = w;  // 0 for an ignored row, NaN for a bad label
            if (label != ignore_index && label >= 0 && label < classes) {
                T picked = (zn[label * szc] - m) - lse;
                value = -((T(1) - eps) * w * picked + (eps != T(0) ? eps / T(classes) * total : T(0)));
            }
            loss[n] = value;
            row_weight[n] = w;
        }
    }
}

// weight_total[0] = W = sum_c w_c is read only with weights and eps != 0.
template <class T>
__device__ void cross_entropy_back_elements(const T* __restrict__ logp, const long long* __restrict__ labels,
                                            const T* __restrict__ weight, const T* __restrict__ weight_total,
                                            const T* __restrict__ gl, T* __restrict__ dz, int total, int classes,
                                            int spn, int spc, int sl, int sg, int sw, T eps, int has_weight,
                                            long long ignore_index)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        int n = i / classes, c = i - n * classes;
        long long label = labels[n * sl];
        T w = label_weight(label, classes, ignore_index, weight, sw, has_weight);
        T p = exp_of(logp[n * spn + c * spc]);
        T d = (T(1) - eps) * w * (p - (c == label ? T(1) : T(0)));
        if (eps != T(0)) {
            T wc = has_weight ? weight[c * sw] : T(1), wsum = has_weight ? weight_total[0] : T(classes);
            d += eps / T(classes) * (wsum * p - wc);
        }
        dz[i] = label == ignore_index ? T(0) : d * gl[n * sg];
    }
}

// loss_n = -w_n x[n, y_n] (w_n itself, 0 or NaN, when the row is ignored or its label is bad).
template <class T>
__device__ void nll_rows(const T* __restrict__ x, const long long* __restrict__ labels, const T* __restrict__ weight,
                         T* __restrict__ loss, T* __restrict__ row_weight, int rows_n, int classes, int sxn, int sxc,
                         int sl, int sw, int has_weight, long long ignore_index)
{
    for (int n = blockIdx.x * blockDim.x + threadIdx.x; n < rows_n; n += gridDim.x * blockDim.x) {
        long long label = labels[n * sl];
        T w = label_weight(label, classes, ignore_index, weight, sw, has_weight);
        bool picked = label != ignore_index && label >= 0 && label < classes;
        loss[n] = picked ? -w * x[n * sxn + label * sxc] : w;
        row_weight[n] = w;
    }
}

// dx[n, c] = -w_n g_n [c = y_n]: 0 in an ignored row, NaN in the row of a bad label.
template <class T>
__device__ void nll_back_elements(const long long* __restrict__ labels, const T* __restrict__ weight,
                                  const T* __restrict__ gl, T* __restrict__ dx, int total, int classes, int sl, int sg,
                                  int sw, int has_weight, long long ignore_index)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        int n = i / classes, c = i - n * classes;
        long long label = labels[n * sl];
        T w = label_weight(label, classes, ignore_index, weight, sw, has_weight);
        T d = c == label ? -w * gl[n * sg] : T(0);
        dx[i] = label == ignore_index ? T(0) : (w != w ? w : d);
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
    extern "C" __global__ void cross_entropy_forward_##SFX(                                                 \
        const T* __restrict__ z, const long long* __restrict__ labels, const T* __restrict__ weight,           \
        T* __restrict__ loss, T* __restrict__ row_weight, T* __restrict__ logp, int rows_n, int classes,       \
        int szn, int szc, int sl, int sw, int lanes, T eps, int has_weight, long long ignore_index)           \
    {                                                                                                          \
        cross_entropy_rows<T>(z, labels, weight, loss, row_weight, logp, rows_n, classes, szn, szc, sl, sw,   \
                              lanes, eps, has_weight, ignore_index);                                          \
    }                                                                                                          \
    extern "C" __global__ void cross_entropy_backward_##SFX(                                                \
        const T* __restrict__ logp, const long long* __restrict__ labels, const T* __restrict__ weight,        \
        const T* __restrict__ weight_total, const T* __restrict__ gl, T* __restrict__ dz, int total,           \
        int classes, int spn, int spc, int sl, int sg, int sw, T eps, int has_weight, long long ignore_index) \
    {                                                                                                          \
        cross_entropy_back_elements<T>(logp, labels, weight, weight_total, gl, dz, total, classes, spn, spc,  \
                                       sl, sg, sw, eps, has_weight, ignore_index);                            \
    }                                                                                                          \
    extern "C" __global__ void nll_forward_##SFX(const T* __restrict__ x, const long long* __restrict__ labels, \
                                                 const T* __restrict__ weight, T* __restrict__ loss,          \
                                                 T* __restrict__ row_weight, int rows_n, int classes, int sxn,  \
                                                 int sxc, int sl, int sw, int has_weight,                     \
                                                 long long ignore_index)                                      \
    {                                                                                                          \
        nll_rows<T>(x, labels, weight, loss, row_weight, rows_n, classes, sxn, sxc, sl, sw, has_weight,       \
                    ignore_index);                                                                             \
    }                                                                                                          \
    extern "C" __global__ void nll_backward_##SFX(const long long* __restrict__ labels,                       \
                                                  const T* __restrict__ weight, const T* __restrict__ gl,     \
                                                  T* __restrict__ dx, int total, int classes, int sl, int sg, \
                                                  int sw, int has_weight, long long ignore_index)             \
    {                                                                                                          \
        nll_back_elements<T>(labels, weight, gl, dx, total, classes, sl, sg, sw, has_weight, ignore_index);   \
    }

SOFTMAX_ENTRIES(f32, float)
SOFTMAX_ENTRIES(f64, double)
