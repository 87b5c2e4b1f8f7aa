// The kernels of the kernel-lab tutorial (docs/kernels.md, examples/custom_kernel.py).
// Load them with gd.kernels.load("examples/custom_kernel.cu", device="emu" or "cuda").

// ---- 1. a first kernel: y = a x + y, one element per thread ----
extern "C" __global__ void saxpy(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

// ---- 2. transpose: out (cols x rows) = in (rows x cols)^T, blocks of 32 x 32 threads ----
#define TILE 32

// Reads along rows of `in` (coalesced), writes down columns of `out`: the 32 lanes of a warp
// write 32 different rows, so each store request touches 32 sectors for 128 useful bytes.
extern "C" __global__ void transpose_naive(const float* in, float* out, int rows, int cols) {
  int c = blockIdx.x * TILE + threadIdx.x, r = blockIdx.y * TILE + threadIdx.y;
  if (r < rows && c < cols) out[c * rows + r] = in[r * cols + c];
}

// Through a shared-memory tile: read a tile along its rows, write it out along rows too. The
// tile is read down its columns; with PAD = 0 a column is one bank (32-way conflicts), with
// PAD = 1 each row starts one bank further and a column spans all 32 banks.
template <int PAD>
__device__ void transpose_tile(const float* in, float* out, int rows, int cols) {
  __shared__ float tile[TILE][TILE + PAD];
  int c = blockIdx.x * TILE + threadIdx.x, r = blockIdx.y * TILE + threadIdx.y;
  if (r < rows && c < cols) tile[threadIdx.y][threadIdx.x] = in[r * cols + c];
  __syncthreads();
  int oc = blockIdx.y * TILE + threadIdx.x, orow = blockIdx.x * TILE + threadIdx.y;
  if (orow < cols && oc < rows) out[orow * rows + oc] = tile[threadIdx.x][threadIdx.y];
}

extern "C" __global__ void transpose_shared(const float* in, float* out, int rows, int cols) {
  transpose_tile<0>(in, out, rows, cols);
}

extern "C" __global__ void transpose_padded(const float* in, float* out, int rows, int cols) {
  transpose_tile<1>(in, out, rows, cols);
}

// ---- 3. a block sum in shared memory (blocks of 256 threads): out[block] = its 256 inputs' sum ----
#define BLOCK 256

// Interleaved addressing: at stride s thread t adds word 2 s t + s into word 2 s t, so the
// active lanes of a warp are 2 s words apart and up to 32 / (2 s) of them share a bank.
extern "C" __global__ void sum_interleaved(const float* x, float* out, int n) {
  __shared__ float s[BLOCK];
  int t = threadIdx.x, i = blockIdx.x * BLOCK + t;
  s[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int stride = 1; stride < BLOCK; stride *= 2) {
    int k = 2 * stride * t;
    if (k < BLOCK) s[k] += s[k + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

// Sequential addressing: thread t adds word t + half into word t: consecutive lanes, consecutive
// words, every bank once.
extern "C" __global__ void sum_sequential(const float* x, float* out, int n) {
  __shared__ float s[BLOCK];
  int t = threadIdx.x, i = blockIdx.x * BLOCK + t;
  s[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int half = BLOCK / 2; half > 0; half /= 2) {
    if (t < half) s[t] += s[t + half];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

// ---- 4. a fused activation and its gradient, for float32 and float64 ----
// swish(x) = x s(x) with s the logistic sigmoid;  d swish / dx = s + x s (1 - s)
template <class T>
__device__ T sigmoid(T x) {
  return T(1) / (T(1) + exp(-x));
}

template <class T>
__device__ void swish_forward(const T* x, T* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] * sigmoid(x[i]);
}

template <class T>
__device__ void swish_backward(const T* x, const T* grad, T* grad_x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    T s = sigmoid(x[i]);
    grad_x[i] = grad[i] * (s + x[i] * s * (T(1) - s));
  }
}

extern "C" __global__ void swish_forward_f32(const float* x, float* y, int n) { swish_forward(x, y, n); }
extern "C" __global__ void swish_forward_f64(const double* x, double* y, int n) { swish_forward(x, y, n); }
extern "C" __global__ void swish_backward_f32(const float* x, const float* grad, float* grad_x, int n) {
  swish_backward(x, grad, grad_x, n);
}
extern "C" __global__ void swish_backward_f64(const double* x, const double* grad, double* grad_x, int n) {
  swish_backward(x, grad, grad_x, n);
}
