// Deliberately wrong kernels for the AddressSanitizer tests (tests/emu/test_emu_asan.py).

// No bounds check: threads past n write beyond the end of y.
extern "C" __global__ void global_oob(float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  y[i] = 1.0f;
}

// A 32-float tile written by a 64-thread block.
extern "C" __global__ void shared_oob(float* y) {
  __shared__ float tile[32];
  tile[threadIdx.x] = 2.0f;
  __syncthreads();
  y[threadIdx.x] = tile[threadIdx.x % 32];
}

// Dynamic shared memory used beyond the shared_mem bytes of the launch.
extern "C" __global__ void dynamic_shared_oob(float* y) {
  extern __shared__ float buffer[];
  buffer[threadIdx.x] = 3.0f;
  __syncthreads();
  y[threadIdx.x] = buffer[threadIdx.x];
}

// Far outside any allocation: a segmentation fault without ASan.
extern "C" __global__ void wild_write(float* y) {
  y[(1ull << 40) + threadIdx.x] = 4.0f;
}

// 1 MiB of locals: more than a fiber's stack.
extern "C" __global__ void stack_overflow(float* y, int n) {
  volatile float local[256 * 1024];
  for (int i = 0; i < n; ++i) local[i] = y[i];
  y[threadIdx.x] = local[n - 1];
}
