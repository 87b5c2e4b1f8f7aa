// fit's bookkeeping of one training step in one launch (one block of 256 threads), so the loop
// never reads the device per step: the sums stay in device memory until the progress bar or
// the end of the epoch reads them (and a captured step updates them on every replay).
//
// sums is float64 [loss * n, correct, samples, steps, first non-finite step]:
//
//   sums[0] += loss * n         sums[2] += n          sums[3] += 1
//   sums[1] += #{i : pred_i == label_i}      (only when counting; classes = 0 skips it)
//   sums[4]  = sums[3] at the first step whose loss is NaN or +-Inf (0 while there is none)
//
//   pred_i = argmax_j out[i, j] (the first maximum, like NumPy) when classes > 1,
//            [out_i > 0] for one logit per sample (classes == 1)
//
// The count is a fixed-order tree sum in shared memory: deterministic, no atomics.

#define METRICS_THREADS 256

template <class T, class L>
__device__ void metrics_body(const T* loss, const T* out, const L* labels, int n, int classes, double* sums)
{
    __shared__ double counts[METRICS_THREADS];
    double correct = 0.0;
    for (int i = threadIdx.x; classes > 0 && i < n; i += blockDim.x) {
        long long pred = 0;
        if (classes > 1) {
            const T* row = out + (long long)i * classes;
            for (int j = 1; j < classes; ++j)
                if (row[j] > row[pred]) pred = j;
        } else {
            pred = out[i] > T(0) ? 1 : 0;
        }
        correct += (double)pred == (double)labels[i] ? 1.0 : 0.0;
    }
    counts[threadIdx.x] = correct;
    __syncthreads();
    for (int s = METRICS_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) counts[threadIdx.x] += counts[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        double l = (double)loss[0];
        sums[0] += l * n;
        sums[1] += counts[0];
        sums[2] += n;
        sums[3] += 1.0;
        if (!isfinite(l) && sums[4] == 0.0) sums[4] = sums[3];
    }
}

#define METRICS_KERNEL(T, ST, L, SL)                                                                    \
    extern "C" __global__ void accumulate_metrics_##ST##_##SL(const T* __restrict__ loss,              \
                                                               const T* __restrict__ out,               \
                                                               const L* __restrict__ labels, int n,     \
                                                               int classes, double* __restrict__ sums)  \
    {                                                                                                  \
        metrics_body<T, L>(loss, out, labels, n, classes, sums);                                       \
    }

#define METRICS_KERNELS(T, ST)                                                                           \
    METRICS_KERNEL(T, ST, long long, i64) METRICS_KERNEL(T, ST, int, i32) METRICS_KERNEL(T, ST, float, f32) \
    METRICS_KERNEL(T, ST, double, f64)

METRICS_KERNELS(float, f32)
METRICS_KERNELS(double, f64)
