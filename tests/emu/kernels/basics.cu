// Test kernels for the emu device; each has a NumPy reference in tests/emu/test_kernels.py.

extern "C" __global__ void axpy(const float* __restrict__ x, float* __restrict__ y, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

// One row of 12 ints per thread: blockIdx, threadIdx, gridDim, blockDim.
extern "C" __global__ void indices(int* out) {
  unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  int* row = out + 12 * (block * blockDim.x * blockDim.y * blockDim.z + thread);
  uint3 b = blockIdx, t = threadIdx;
  dim3 g = gridDim, d = blockDim;
  int values[12] = {(int)b.x, (int)b.y, (int)b.z, (int)t.x, (int)t.y, (int)t.z,
                    (int)g.x, (int)g.y, (int)g.z, (int)d.x, (int)d.y, (int)d.z};
  for (int k = 0; k < 12; ++k) row[k] = values[k];
}

// Tree reduction in static shared memory: out[block] = sum of its 256 inputs.
extern "C" __global__ __launch_bounds__(256) void block_sum(const float* x, float* out, int n) {
  __shared__ float partial[256];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  partial[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half >>= 1) {
    if (t < half) partial[t] += partial[t + half];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

// Reverses each block's slice through dynamic shared memory (shared_mem = blockDim.x * 4).
extern "C" __global__ void block_reverse(const float* x, float* y, int n) {
  extern __shared__ float buffer[];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  buffer[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  int j = blockIdx.x * blockDim.x + (blockDim.x - 1 - t);
  if (j < n) y[j] = buffer[t];
}

// A second extern __shared__ array, of another type, aliasing the same buffer.
extern "C" __global__ void count_positive(const float* x, int* out, int n) {
  extern __shared__ __align__(16) int flags[];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  flags[t] = i < n && x[i] > 0.0f;
  int count = __syncthreads_count(flags[t]);
  if (t == 0) out[blockIdx.x] = count;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of x by warp shuffles, one atomicAdd per warp.
extern "C" __global__ void shuffle_sum(const float* x, float* total, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = warp_sum(i < n ? x[i] : 0.0f);
  if ((threadIdx.x & 31) == 0) atomicAdd(total, v);
}

// Per warp: ballot of x > 0, butterfly sum (every lane), inclusive scan, half-warp broadcast.
extern "C" __global__ void warp_ops(const float* x, unsigned* ballots, float* sums, float* scans, float* bcast) {
  int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x & 31;
  float v = x[i];
  unsigned b = __ballot_sync(0xffffffffu, v > 0.0f);
  if (lane == 0) ballots[i / 32] = b;
  float s = v;
  for (int m = 16; m > 0; m >>= 1) s += __shfl_xor_sync(0xffffffffu, s, m);
  sums[i] = s;
  float scan = v;
  for (int d = 1; d < 32; d <<= 1) {
    float up = __shfl_up_sync(0xffffffffu, scan, d);
    if (lane >= d) scan += up;
  }
  scans[i] = scan;
  bcast[i] = __shfl_sync(0xffffffffu, v, 3, 16);
}

extern "C" __global__ void votes(const int* x, int* any_out, int* all_out) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int a = __any_sync(0xffffffffu, x[i]), b = __all_sync(0xffffffffu, x[i]);
  if ((threadIdx.x & 31) == 0) any_out[i / 32] = a, all_out[i / 32] = b;
}

extern "C" __global__ void histogram(const int* values, unsigned int* bins, int n, int nbins) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    atomicAdd(&bins[min(max(values[i], 0), nbins - 1)], 1u);
}

// Shift right by one inside each block, with the barrier...
extern "C" __global__ void shift_synced(const float* x, float* y) {
  __shared__ float s[128];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t] = x[i];
  __syncthreads();
  y[i] = t > 0 ? s[t - 1] : 0.0f;
}

// ...and without it: right when threads run in order, wrong (NaN) otherwise.
extern "C" __global__ void shift_unsynced(const float* x, float* y) {
  __shared__ float s[128];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t] = x[i];
  y[i] = t > 0 ? s[t - 1] : 0.0f;
}

// Half the threads leave before the barrier the others wait at.
extern "C" __global__ void divergent_barrier(float* y) {
  if (threadIdx.x < 16) return;
  __syncthreads();
  y[threadIdx.x] = 1.0f;
}

// Lanes 0-15 wait at the block barrier, lanes 16-31 at a full-warp __syncwarp.
extern "C" __global__ void warp_deadlock(float* y) {
  if (threadIdx.x < 16)
    __syncthreads();
  else
    __syncwarp();
  y[threadIdx.x] = 1.0f;
}

extern "C" __global__ void math_functions(const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = x[i];
  float4 q = make_float4(__expf(v), tanhf(v), rsqrtf(v + 1.0f), __fdividef(v, 3.0f));
  y[4 * i + 0] = q.x;
  y[4 * i + 1] = fmaxf(q.y, fminf(v, 0.5f));
  y[4 * i + 2] = q.z + fabsf(-v) + sqrtf(v) + logf(v + 1.0f);
  y[4 * i + 3] = fmaf(q.w, 2.0f, 1.0f) + max(1, 2) + min(v, 1.0f);
}

// Kernels defined by a macro, and one compiled out: found in the preprocessed source.
#define SCALE_KERNEL(name, factor)                          \
  extern "C" __global__ void name(REAL* y, int n) {         \
    int i = blockIdx.x * blockDim.x + threadIdx.x;          \
    if (i < n) y[i] *= (factor);                            \
  }
#define REAL float
SCALE_KERNEL(scale_by_two, 2.0f)
SCALE_KERNEL(scale_by_three, 3.0f)

#if 0
extern "C" __global__ void compiled_out(float* y) { y[0] = 1.0f; }
#endif

// Lanes 0-7 of each warp leave; the others take lane 8's value with a mask without them.
extern "C" __global__ void broadcast_after_exit(const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x & 31;
  y[i] = x[i];
  if (lane < 8) return;
  y[i] = __shfl_sync(0xffffff00u, x[i], 8);
}
