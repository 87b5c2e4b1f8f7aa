// Batch normalisation over axis 1 of (N, C, H, W) input ((N, C) is (N, C, 1, 1), (N, C, L) is
// (N, C, L, 1)), forward and backward, one block per channel.  Per channel c, over its n = N H W values:
//
//   training   mu_c = (1/n) sum x,   var_c = (1/n) sum (x - mu_c)^2       (biased; two passes)
//              r_mu  <- (1 - m) r_mu  + m mu_c
//              r_var <- (1 - m) r_var + m var_c n / (n - 1)               (in place; PyTorch's rule)
//              m = momentum, or 1 / num_batches_tracked when cumulative (PyTorch's momentum=None:
//              the count, already advanced for this batch, is read from device memory)
//   eval       mu_c = r_mu_c,  var_c = r_var_c
//   both       invstd_c = 1 / sqrt(var_c + eps),  xhat = (x - mu_c) invstd_c,  y = gamma_c xhat + beta_c
//
//   backward   dbeta_c = sum g,  dgamma_c = sum g xhat
//              training  dx = gamma_c invstd_c / n (n g - dbeta_c - xhat dgamma_c)
//              eval      dx = g gamma_c invstd_c
//
// Inputs x and g may be strided views: `layout` = [4, N, C, H, W, strides of operand 0 (4),
// strides of operand 1 (4)] in elements (gpudl/gpu/strides.py).  Outputs are contiguous NCHW.
// Sums are per-thread partials in a fixed order, then a shared-memory tree: deterministic.
// blockDim.x must be BN_THREADS (a power of two).

#define BN_THREADS 256

__device__ __forceinline__ float inv_sqrt(float v) { return 1.0f / sqrtf(v); }
__device__ __forceinline__ double inv_sqrt(double v) { return 1.0 / sqrt(v); }

// The channel geometry and one operand's strides, read from the layout array.
struct ChannelWalk {
    int C, H, W, sn, sc, sh, sw;
};

__device__ __forceinline__ ChannelWalk channel_walk(const int* layout, int operand)
{
    const int* s = layout + 5 + 4 * operand;
    ChannelWalk v = {layout[2], layout[3], layout[4], s[0], s[1], s[2], s[3]};
    return v;
}

// Element offset of value e (0 <= e < n, in (n, h, w) order) of channel c.
__device__ __forceinline__ long long walk_offset(const ChannelWalk& v, int c, int e)
{
    int w = e % v.W, t = e / v.W;
    int h = t % v.H, o = t / v.H;
    return (long long)o * v.sn + (long long)c * v.sc + (long long)h * v.sh + (long long)w * v.sw;
}

// Offset of value e of channel c in a contiguous (N, C, H, W) output.
__device__ __forceinline__ long long dense_offset(const ChannelWalk& v, int c, int e)
{
    int hw = v.H * v.W;
    return ((long long)(e / hw) * v.C + c) * hw + e % hw;
}

// Sum of v over the block, returned to every thread (tree in shared memory, fixed order).
template <class T>
__device__ T block_sum(T v, T* buf)
{
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) buf[threadIdx.x] += buf[threadIdx.x + half];
        __syncthreads();
    }
    T total = buf[0];
    __syncthreads();  // buf is reused by the next sum
    return total;
}

template <class T>
__device__ void forward_body(const T* x, const int* layout, const T* weight, const T* bias, T* running_mean,
                             T* running_var, const long long* batches, T* y, T* mean_out, T* invstd_out, int n,
                             int has_weight, int has_bias, int has_running, int training, int cumulative, T momentum,
                             T eps)
{
    __shared__ T buf[BN_THREADS];
    ChannelWalk v = channel_walk(layout, 0);
    T m = cumulative ? T(1) / T(*batches) : momentum;
    for (int c = blockIdx.x; c < v.C; c += gridDim.x) {
        T mean, invstd;
        if (training) {
            T acc = T(0);
            for (int e = threadIdx.x; e < n; e += blockDim.x) acc += x[walk_offset(v, c, e)];
            mean = block_sum(acc, buf) / T(n);
            acc = T(0);
            for (int e = threadIdx.x; e < n; e += blockDim.x) {
                T d = x[walk_offset(v, c, e)] - mean;
                acc += d * d;
            }
            T var = block_sum(acc, buf) / T(n);
            invstd = inv_sqrt(var + eps);
            if (threadIdx.x == 0 && has_running) {
                running_mean[c] = (T(1) - m) * running_mean[c] + m * mean;
                running_var[c] = (T(1) - m) * running_var[c] + m * var * (T(n) / T(n - 1));
            }
        } else {
            mean = running_mean[c];
            invstd = inv_sqrt(running_var[c] + eps);
        }
        T scale = has_weight ? invstd * weight[c] : invstd;
        T shift = has_bias ? bias[c] : T(0);
        for (int e = threadIdx.x; e < n; e += blockDim.x)
            y[dense_offset(v, c, e)] = (x[walk_offset(v, c, e)] - mean) * scale + shift;
        if (threadIdx.x == 0) {
            mean_out[c] = mean;
            invstd_out[c] = invstd;
        }
    }
}

template <class T>
__device__ void backward_body(const T* g, const T* x, const int* layout, const T* weight, const T* mean,
                              const T* invstd, T* gx, T* gweight, T* gbias, int n, int has_weight, int training)
{
    __shared__ T buf[BN_THREADS];
    ChannelWalk vg = channel_walk(layout, 0), vx = channel_walk(layout, 1);
    for (int c = blockIdx.x; c < vg.C; c += gridDim.x) {
        T mu = mean[c], is = invstd[c];
        T sum_g = T(0), sum_gx = T(0);
        for (int e = threadIdx.x; e < n; e += blockDim.x) {
            T gv = g[walk_offset(vg, c, e)];
            sum_g += gv;
            sum_gx += gv * ((x[walk_offset(vx, c, e)] - mu) * is);
        }
        sum_g = block_sum(sum_g, buf);
        sum_gx = block_sum(sum_gx, buf);
        T scale = has_weight ? weight[c] * is : is;
        for (int e = threadIdx.x; e < n; e += blockDim.x) {
            T gv = g[walk_offset(vg, c, e)];
            T out = gv * scale;
            if (training) {
                T xhat = (x[walk_offset(vx, c, e)] - mu) * is;
                out = scale / T(n) * (T(n) * gv - sum_g - xhat * sum_gx);
            }
            gx[dense_offset(vg, c, e)] = out;
        }
        if (threadIdx.x == 0) {
            gweight[c] = sum_gx;
            gbias[c] = sum_g;
        }
    }
}

#define BATCH_NORM_KERNELS(T, S)                                                                                 \
    extern "C" __global__ void batch_norm_forward_##S(                                                           \
        const T* __restrict__ x, const int* __restrict__ layout, const T* __restrict__ weight,                   \
        const T* __restrict__ bias, T* __restrict__ running_mean, T* __restrict__ running_var,                   \
        const long long* __restrict__ batches, T* __restrict__ y, T* __restrict__ mean_out,                      \
        T* __restrict__ invstd_out, int n, int has_weight, int has_bias, int has_running, int training,          \
        int cumulative, T momentum, T eps)                                                                       \
    {                                                                                                            \
        forward_body<T>(x, layout, weight, bias, running_mean, running_var, batches, y, mean_out, invstd_out, n, \
                        has_weight, has_bias, has_running, training, cumulative, momentum, eps);                \
    }                                                                                                            \
    extern "C" __global__ void batch_norm_backward_##S(                                                          \
        const T* __restrict__ g, const T* __restrict__ x, const int* __restrict__ layout,                        \
        const T* __restrict__ weight, const T* __restrict__ mean, const T* __restrict__ invstd,                  \
        T* __restrict__ gx, T* __restrict__ gweight, T* __restrict__ gbias, int n, int has_weight, int training) \
    {                                                                                                            \
        backward_body<T>(g, x, layout, weight, mean, invstd, gx, gweight, gbias, n, has_weight, training);      \
    }

BATCH_NORM_KERNELS(float, f32)
