// Test kernels for the emu memory profiler (tests/emu/test_memory_profiler.py): each has a known
// coalescing or bank-conflict pattern.

// y[i * stride] = x[i * stride] for i < n: stride 1 is coalesced, stride 32 touches a sector per lane.
extern "C" __global__ void strided_copy(const float* x, float* y, int n, int stride) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[(long long)i * stride] = x[(long long)i * stride];
}

extern "C" __global__ void copy_f64(const double* x, double* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i];
}

extern "C" __global__ void copy_float4(const float4* x, float4* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i];
}

// Every lane reads x[0] (global) and s[0] (shared): a broadcast.
extern "C" __global__ void broadcast(const float* x, float* y) {
  __shared__ float s[32];
  s[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  y[threadIdx.x] = x[0] + s[0];
}

// Each thread copies `rounds` elements, one per loop iteration: one request per warp and round.
extern "C" __global__ void rounds_copy(const float* x, float* y, int n, int rounds) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  for (int r = 0; r < rounds; ++r) y[r * n + i] = x[r * n + i];
}

// A 32 x 32 tile (block 32 x 32) written along rows and read down its columns: 32-way conflicts.
extern "C" __global__ void tile_column(const float* x, float* y) {
  __shared__ float tile[32][32];
  int tx = threadIdx.x, ty = threadIdx.y;
  tile[ty][tx] = x[ty * 32 + tx];
  __syncthreads();
  y[ty * 32 + tx] = tile[tx][ty];
}

// The same with a padding column: the column read hits 32 different banks.
extern "C" __global__ void tile_column_padded(const float* x, float* y) {
  __shared__ float tile[32][33];
  int tx = threadIdx.x, ty = threadIdx.y;
  tile[ty][tx] = x[ty * 32 + tx];
  __syncthreads();
  y[ty * 32 + tx] = tile[tx][ty];
}

// The same two tiles in a function template: the compiler does not place its __shared__
// variables in the shared-memory section; the profiler finds them by their symbols.
template <int PAD>
__device__ void column_read(const float* x, float* y) {
  __shared__ float tile[32][32 + PAD];
  int tx = threadIdx.x, ty = threadIdx.y;
  tile[ty][tx] = x[ty * 32 + tx];
  __syncthreads();
  y[ty * 32 + tx] = tile[tx][ty];
}

extern "C" __global__ void template_tile(const float* x, float* y) { column_read<0>(x, y); }
extern "C" __global__ void template_tile_padded(const float* x, float* y) { column_read<1>(x, y); }

// Lane l reads word 2 l of dynamic shared memory: two lanes per bank, a 2-way conflict.
extern "C" __global__ void shared_stride2(const float* x, float* y) {
  extern __shared__ float buffer[];
  buffer[threadIdx.x] = x[threadIdx.x];
  buffer[threadIdx.x + 32] = x[threadIdx.x + 32];
  __syncthreads();
  y[threadIdx.x] = buffer[2 * threadIdx.x];
}

// Consecutive doubles in shared memory: 2 wavefronts, both needed (no conflict).
extern "C" __global__ void shared_f64(const double* x, double* y) {
  __shared__ double s[32];
  s[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  y[threadIdx.x] = s[31 - threadIdx.x];
}
