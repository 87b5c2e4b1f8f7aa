// shim.h — the subset of CUDA C++ that gpudl.emu compiles with the host C++ compiler.
// Included before every .cu file. Execution qualifiers vanish, the built-in index variables
// are globals set by the fiber scheduler (runtime.cpp), and the intrinsics that synchronise
// threads call into that scheduler. Only one CUDA thread runs at a time, so plain
// read-modify-write is atomic and memory fences are no-ops.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include "runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
// Blocks run one at a time, so one static copy per __shared__ variable is enough. The
// section lets the runtime fill all of them with 0xFF before each block (unwritten shared
// memory reads as NaN) and, under ASan, gives each its own redzone.
#if defined(__ELF__)
#define __shared__ static __attribute__((section("gpudl_shared")))
#else
#define __shared__ static
#endif

static constexpr int warpSize = 32;
#define CUDART_INF_F __builtin_huge_valf()
#define CUDART_NAN_F __builtin_nanf("")
#define CUDART_INF __builtin_huge_val()
#define CUDART_NAN __builtin_nan("")

// ---- vector types: struct {x, y, z, w} with CUDA's alignment, and make_<type>(...) ----
#define GPUDL_EMU_VEC1(T, N)            \
  struct N##1 {                         \
    T x;                                \
  };                                    \
  inline N##1 make_##N##1(T x) { return N##1{x}; }
#define GPUDL_EMU_VEC2(T, N, A)         \
  struct __align__(A) N##2 {            \
    T x, y;                             \
  };                                    \
  inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define GPUDL_EMU_VEC3(T, N)            \
  struct N##3 {                         \
    T x, y, z;                          \
  };                                    \
  inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }
#define GPUDL_EMU_VEC4(T, N, A)         \
  struct __align__(A) N##4 {            \
    T x, y, z, w;                       \
  };                                    \
  inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
#define GPUDL_EMU_VECS(T, N, A2, A4) GPUDL_EMU_VEC1(T, N) GPUDL_EMU_VEC2(T, N, A2) GPUDL_EMU_VEC3(T, N) GPUDL_EMU_VEC4(T, N, A4)

GPUDL_EMU_VECS(signed char, char, 2, 4)
GPUDL_EMU_VECS(unsigned char, uchar, 2, 4)
GPUDL_EMU_VECS(short, short, 4, 8)
GPUDL_EMU_VECS(unsigned short, ushort, 4, 8)
GPUDL_EMU_VECS(int, int, 8, 16)
GPUDL_EMU_VECS(float, float, 8, 16)
GPUDL_EMU_VECS(long long, longlong, 16, 16)
GPUDL_EMU_VECS(unsigned long long, ulonglong, 16, 16)
GPUDL_EMU_VECS(double, double, 16, 16)
GPUDL_EMU_VEC1(unsigned int, uint)
GPUDL_EMU_VEC2(unsigned int, uint, 8)
GPUDL_EMU_VEC4(unsigned int, uint, 16)
inline uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }

// ---- math: <math.h> gives expf, logf, tanhf, sqrtf, fmaxf, fminf, fabsf, fmaf, INFINITY ...
// glibc already declares internal __expf & co., so CUDA's fast-math names are renamed to
// our own functions (full-precision here; the GPU's are approximate: compare with rtol).
inline float gpudl_emu_expf(float x) { return expf(x); }
inline float gpudl_emu_exp10f(float x) { return exp10f(x); }
inline float gpudl_emu_logf(float x) { return logf(x); }
inline float gpudl_emu_log2f(float x) { return log2f(x); }
inline float gpudl_emu_log10f(float x) { return log10f(x); }
inline float gpudl_emu_sinf(float x) { return sinf(x); }
inline float gpudl_emu_cosf(float x) { return cosf(x); }
inline float gpudl_emu_tanf(float x) { return tanf(x); }
inline float gpudl_emu_powf(float x, float y) { return powf(x, y); }
inline void gpudl_emu_sincosf(float x, float* s, float* c) { *s = sinf(x), *c = cosf(x); }
#define __expf gpudl_emu_expf
#define __exp10f gpudl_emu_exp10f
#define __logf gpudl_emu_logf
#define __log2f gpudl_emu_log2f
#define __log10f gpudl_emu_log10f
#define __sinf gpudl_emu_sinf
#define __cosf gpudl_emu_cosf
#define __tanf gpudl_emu_tanf
#define __powf gpudl_emu_powf
#define __sincosf gpudl_emu_sincosf

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float fdividef(float a, float b) { return a / b; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }

template <class To, class From>
inline To gpudl_emu_bits(From v) {
  static_assert(sizeof(To) == sizeof(From), "bit cast between different sizes");
  To out;
  __builtin_memcpy(&out, &v, sizeof(To));
  return out;
}
inline int __float_as_int(float x) { return gpudl_emu_bits<int>(x); }
inline unsigned __float_as_uint(float x) { return gpudl_emu_bits<unsigned>(x); }
inline float __int_as_float(int x) { return gpudl_emu_bits<float>(x); }
inline float __uint_as_float(unsigned x) { return gpudl_emu_bits<float>(x); }
inline long long __double_as_longlong(double x) { return gpudl_emu_bits<long long>(x); }
inline double __longlong_as_double(long long x) { return gpudl_emu_bits<double>(x); }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline int __mul24(int a, int b) { return a * b; }
inline unsigned __umul24(unsigned a, unsigned b) { return a * b; }

// ---- min / max: CUDA overloads them for every arithmetic type; mixed types promote ----
#define GPUDL_EMU_MINMAX(T)                          \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
GPUDL_EMU_MINMAX(int)
GPUDL_EMU_MINMAX(unsigned int)
GPUDL_EMU_MINMAX(long)
GPUDL_EMU_MINMAX(unsigned long)
GPUDL_EMU_MINMAX(long long)
GPUDL_EMU_MINMAX(unsigned long long)
GPUDL_EMU_MINMAX(float)
GPUDL_EMU_MINMAX(double)
template <class A, class B>
inline auto min(A a, B b) -> decltype(a + b) {
  return min(static_cast<decltype(a + b)>(a), static_cast<decltype(a + b)>(b));
}
template <class A, class B>
inline auto max(A a, B b) -> decltype(a + b) {
  return max(static_cast<decltype(a + b)>(a), static_cast<decltype(a + b)>(b));
}

// ---- atomics: one CUDA thread runs at a time, so read-modify-write is atomic; return the old value
#define GPUDL_EMU_ATOMIC(NAME, T, EXPR) \
  inline T NAME(T* p, T v) {           \
    T old = *p;                        \
    *p = (EXPR);                       \
    return old;                        \
  }
#define GPUDL_EMU_ATOMIC_INT(T)                                    \
  GPUDL_EMU_ATOMIC(atomicAdd, T, old + v)                          \
  GPUDL_EMU_ATOMIC(atomicSub, T, old - v)                          \
  GPUDL_EMU_ATOMIC(atomicExch, T, v)                               \
  GPUDL_EMU_ATOMIC(atomicMin, T, v < old ? v : old)                \
  GPUDL_EMU_ATOMIC(atomicMax, T, old < v ? v : old)                \
  GPUDL_EMU_ATOMIC(atomicAnd, T, old & v)                          \
  GPUDL_EMU_ATOMIC(atomicOr, T, old | v)                           \
  GPUDL_EMU_ATOMIC(atomicXor, T, old ^ v)                          \
  inline T atomicCAS(T* p, T expected, T v) {                      \
    T old = *p;                                                    \
    if (old == expected) *p = v;                                   \
    return old;                                                    \
  }
GPUDL_EMU_ATOMIC_INT(int)
GPUDL_EMU_ATOMIC_INT(unsigned int)
GPUDL_EMU_ATOMIC_INT(long long)
GPUDL_EMU_ATOMIC_INT(unsigned long long)
GPUDL_EMU_ATOMIC(atomicAdd, float, old + v)
GPUDL_EMU_ATOMIC(atomicAdd, double, old + v)
GPUDL_EMU_ATOMIC(atomicExch, float, v)
GPUDL_EMU_ATOMIC(atomicInc, unsigned int, old >= v ? 0u : old + 1u)
GPUDL_EMU_ATOMIC(atomicDec, unsigned int, (old == 0u || old > v) ? v : old - 1u)

template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline void __trap() { gpudl_emu_trap("__trap() was called"); }

// ---- block barrier ----
inline void __syncthreads() { gpudl_emu_syncthreads(GPUDL_EMU_BAR, 0); }
inline int __syncthreads_count(int p) { return gpudl_emu_syncthreads(GPUDL_EMU_BAR_COUNT, p); }
inline int __syncthreads_and(int p) { return gpudl_emu_syncthreads(GPUDL_EMU_BAR_AND, p); }
inline int __syncthreads_or(int p) { return gpudl_emu_syncthreads(GPUDL_EMU_BAR_OR, p); }

// ---- warp intrinsics: values travel as 8 raw bytes through the runtime's per-warp buffer ----
template <class T>
inline T gpudl_emu_shuffle(int op, unsigned mask, T value, int arg, int width) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type wider than 8 bytes");
  unsigned long long bits = 0;
  __builtin_memcpy(&bits, &value, sizeof(T));
  bits = gpudl_emu_warp(op, mask, bits, arg, width);
  T out;
  __builtin_memcpy(&out, &bits, sizeof(T));
  return out;
}
template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return gpudl_emu_shuffle(GPUDL_EMU_SHFL_IDX, mask, var, src_lane, width);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return gpudl_emu_shuffle(GPUDL_EMU_SHFL_UP, mask, var, (int)delta, width);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return gpudl_emu_shuffle(GPUDL_EMU_SHFL_DOWN, mask, var, (int)delta, width);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return gpudl_emu_shuffle(GPUDL_EMU_SHFL_XOR, mask, var, lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int p) { return (unsigned)gpudl_emu_warp(GPUDL_EMU_BALLOT, mask, p != 0, 0, 32); }
inline int __any_sync(unsigned mask, int p) { return (int)gpudl_emu_warp(GPUDL_EMU_ANY, mask, p != 0, 0, 32); }
inline int __all_sync(unsigned mask, int p) { return (int)gpudl_emu_warp(GPUDL_EMU_ALL, mask, p != 0, 0, 32); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { gpudl_emu_warp(GPUDL_EMU_SYNCWARP, mask, 0, 0, 32); }
inline unsigned __activemask() { return gpudl_emu_activemask(); }
