// runtime_api.h — what the generated kernel translation unit and runtime.cpp share:
// the index types, the runtime's entry points and the template that binds a kernel's
// arguments once per launch. Kernels never include this directly; shim.h does.
#pragma once
#include <stddef.h>
#include <tuple>
#include <type_traits>
#include <utility>

struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define GPUDL_EMU_HIDDEN __attribute__((visibility("hidden")))

// The built-in variables: plain globals that the scheduler rewrites at every fiber switch.
extern GPUDL_EMU_HIDDEN uint3 threadIdx;
extern GPUDL_EMU_HIDDEN uint3 blockIdx;
extern GPUDL_EMU_HIDDEN dim3 blockDim;
extern GPUDL_EMU_HIDDEN dim3 gridDim;

// Dynamic shared memory: every `extern __shared__ T name[];` becomes a pointer to this buffer.
#define GPUDL_EMU_MAX_DYNAMIC_SHARED (48 * 1024)
extern "C" GPUDL_EMU_HIDDEN unsigned char gpudl_emu_dynamic_shared[GPUDL_EMU_MAX_DYNAMIC_SHARED];

enum gpudl_emu_barrier_op { GPUDL_EMU_BAR, GPUDL_EMU_BAR_COUNT, GPUDL_EMU_BAR_AND, GPUDL_EMU_BAR_OR };
enum gpudl_emu_warp_op {
  GPUDL_EMU_SYNCWARP,
  GPUDL_EMU_SHFL_IDX,
  GPUDL_EMU_SHFL_UP,
  GPUDL_EMU_SHFL_DOWN,
  GPUDL_EMU_SHFL_XOR,
  GPUDL_EMU_BALLOT,
  GPUDL_EMU_ANY,
  GPUDL_EMU_ALL
};

extern "C" {
// __syncthreads and its _count/_and/_or forms: returns the reduced predicate.
GPUDL_EMU_HIDDEN int gpudl_emu_syncthreads(int op, int predicate);
// Every *_sync warp intrinsic: a rendezvous of the lanes in `mask` that exchanges 8-byte values.
GPUDL_EMU_HIDDEN unsigned long long gpudl_emu_warp(int op, unsigned mask, unsigned long long value, int arg,
                                                   int width);
GPUDL_EMU_HIDDEN unsigned gpudl_emu_activemask(void);
[[noreturn]] GPUDL_EMU_HIDDEN void gpudl_emu_trap(const char* what);
// Runs body(closure) once per CUDA thread of every block; returns 0, or 1 with a message in err.
GPUDL_EMU_HIDDEN int gpudl_emu_run(const char* kernel, void (*body)(void*), void* closure, const unsigned* grid,
                                   const unsigned* block, size_t shared_mem, int order, char* err, size_t errlen);
}

namespace gpudl_emu {

template <class T>
using value_t = std::remove_cv_t<std::remove_reference_t<T>>;

// A kernel plus its arguments, unpacked once from the void** array (as cudaLaunchKernel does).
template <class... P>
struct Bound {
  void (*kernel)(P...);
  std::tuple<value_t<P>...> args;
  static void run(void* self) {
    Bound* b = static_cast<Bound*>(self);
    std::apply(b->kernel, b->args);
  }
};

template <class... P, size_t... I>
Bound<P...> bind(void (*kernel)(P...), void** args, std::index_sequence<I...>) {
  return Bound<P...>{kernel, std::tuple<value_t<P>...>(*static_cast<value_t<P>*>(args[I])...)};
}

template <class... P>
int launch(const char* name, void (*kernel)(P...), const unsigned* grid, const unsigned* block, void** args,
           size_t shared_mem, int order, char* err, size_t errlen) {
  Bound<P...> bound = bind(kernel, args, std::index_sequence_for<P...>{});
  return gpudl_emu_run(name, &Bound<P...>::run, &bound, grid, block, shared_mem, order, err, errlen);
}

}  // namespace gpudl_emu
