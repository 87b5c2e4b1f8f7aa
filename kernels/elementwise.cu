// Elementwise ops with NumPy broadcasting: binary arithmetic and comparisons, unary maths,
// where, fill and dtype casts (copy is a cast to the same dtype).
//
// Every kernel walks the n elements of its output in a grid-stride loop.  Element i of the
// output (C order) sits at offset off[k] in operand k (operand 0 is the output), read from
// `layout` (gpudl/gpu/strides.py):
//
//   layout = [ndim, dims[ndim], strides of operand 0[ndim], strides of operand 1[ndim], ...]
//   coords c_d of i over dims (last axis fastest),   off[k] = sum_d c_d * strides_k[d]
//
// ndim == 0 means every operand is contiguous with the output's shape: off[k] = i.
// A broadcast operand has stride 0 on the axes it is stretched along; a Python scalar
// operand is passed by value (flag bits SCALAR_A / SCALAR_B) and its pointer is not read.
//
// Semantics are NumPy's: integer +, -, *, negation wrap modulo 2^bits (done in unsigned
// arithmetic, where C defines the wrap); maximum / minimum return NaN when either side is
// NaN; sign(x) = -1, 0, +1 (NaN for NaN); abs(-0.0) = 0.0; float -> int casts truncate
// (NaN or out-of-range floats give an unspecified integer, as in C and NumPy).

#include "layout.cuh"

// op codes, kept in sync with gpudl/gpu/elementwise.py
// binary ops
#define OP_ADD 0
#define OP_SUB 1
#define OP_MUL 2
#define OP_DIV 3
#define OP_POW 4
#define OP_MAX 5
#define OP_MIN 6
// comparisons
#define OP_LT 0
#define OP_LE 1
#define OP_GT 2
#define OP_GE 3
#define OP_EQ 4
#define OP_NE 5
// unary ops; the clip codes read the bounds lo, hi
#define OP_NEG 0
#define OP_ABS 1
#define OP_SIGN 2
#define OP_EXP 3
#define OP_LOG 4
#define OP_LOG1P 5
#define OP_SQRT 6
#define OP_TANH 7
#define OP_CLIP_LO 8
#define OP_CLIP_HI 9
#define OP_CLIP 10
// which operands are scalars passed by value (bits)
#define SCALAR_A 1
#define SCALAR_B 2
// source dtypes of cast (TYPE_CODES: the order of ALL)
#define TYPE_F32 0
#define TYPE_F64 1
#define TYPE_I32 2
#define TYPE_I64 3
#define TYPE_B8 4

// The type integer arithmetic wraps in: the unsigned twin of T (floats stay themselves).
template <typename T> struct Wrap { typedef T type; };
template <> struct Wrap<int> { typedef unsigned int type; };
template <> struct Wrap<long long> { typedef unsigned long long type; };

// max(a, b) and min(a, b) that return a NaN operand (a != a only for NaN).
template <typename T> __device__ __forceinline__ T maximum(T a, T b) { return (a > b || a != a) ? a : b; }
template <typename T> __device__ __forceinline__ T minimum(T a, T b) { return (a < b || a != a) ? a : b; }

// a (op) b for the ops every numeric dtype has.
template <typename T> __device__ __forceinline__ T arith(int op, T a, T b)
{
    typedef typename Wrap<T>::type W;
    switch (op) {
    case OP_ADD: return (T)((W)a + (W)b);
    case OP_SUB: return (T)((W)a - (W)b);
    case OP_MUL: return (T)((W)a * (W)b);
    case OP_MAX: return maximum(a, b);
    default: return minimum(a, b);
    }
}

// a (op) b for floating-point T: true division and powers too (integers never get them).
template <typename T> __device__ __forceinline__ T real_arith(int op, T a, T b)
{
    switch (op) {
    case OP_DIV: return a / b;
    case OP_POW: return pow(a, b);
    default: return arith<T>(op, a, b);
    }
}
__device__ __forceinline__ float arith(int op, float a, float b) { return real_arith(op, a, b); }
__device__ __forceinline__ double arith(int op, double a, double b) { return real_arith(op, a, b); }

template <typename T> __device__ __forceinline__ bool compare(int op, T a, T b)
{
    switch (op) {
    case OP_LT: return a < b;
    case OP_LE: return a <= b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    case OP_EQ: return a == b;
    default: return a != b;
    }
}

// f(x) for the unary ops every numeric dtype has (clip is min(max(x, lo), hi)).
template <typename T> __device__ __forceinline__ T unary(int op, T x, T lo, T hi)
{
    typedef typename Wrap<T>::type W;
    switch (op) {
    case OP_NEG: return (T)(-(W)x);
    case OP_ABS: return x < 0 ? (T)(-(W)x) : x;
    case OP_SIGN: return x != x ? x : (T)((x > 0) - (x < 0));
    case OP_CLIP_LO: return maximum(x, lo);
    case OP_CLIP_HI: return minimum(x, hi);
    default: return minimum(maximum(x, lo), hi);
    }
}

// f(x) for floating-point T: the transcendental functions too.
template <typename T> __device__ __forceinline__ T real_unary(int op, T x, T lo, T hi)
{
    switch (op) {
    case OP_ABS: return fabs(x);
    case OP_EXP: return exp(x);
    case OP_LOG: return log(x);
    case OP_LOG1P: return log1p(x);
    case OP_SQRT: return sqrt(x);
    case OP_TANH: return tanh(x);
    default: return unary<T>(op, x, lo, hi);
    }
}
__device__ __forceinline__ float unary(int op, float x, float lo, float hi) { return real_unary(op, x, lo, hi); }
__device__ __forceinline__ double unary(int op, double x, double lo, double hi) { return real_unary(op, x, lo, hi); }

struct Arith {
    template <typename T> static __device__ __forceinline__ T apply(int op, T a, T b) { return arith(op, a, b); }
};
struct Compare {
    template <typename T> static __device__ __forceinline__ bool apply(int op, T a, T b) { return compare(op, a, b); }
};

// out = a (op) b; `scalars` says which side is the by-value `scalar` instead of an array.
template <typename Op, typename T, typename R>
__device__ void binary_body(const int* __restrict__ layout, R* out, const T* a, const T* b, int n, int op,
                            T scalar, int scalars)
{
    int off[3];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        layout_offsets(layout, i, 3, off);
        T u = (scalars & SCALAR_A) ? scalar : a[off[1]];
        T v = (scalars & SCALAR_B) ? scalar : b[off[2]];
        out[off[0]] = Op::apply(op, u, v);
    }
}

// out = f(x) (x may be strided).
template <typename T>
__device__ void unary_body(const int* __restrict__ layout, T* out, const T* x, int n, int op, T lo, T hi)
{
    int off[2];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        layout_offsets(layout, i, 2, off);
        out[off[0]] = unary(op, x[off[1]], lo, hi);
    }
}

// out = cond ? a : b, each side an array or a by-value scalar.
template <typename T>
__device__ void where_body(const int* __restrict__ layout, T* out, const bool* cond, const T* a, const T* b, int n,
                           T a_value, T b_value, int scalars)
{
    int off[4];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        layout_offsets(layout, i, 4, off);
        if (cond[off[1]])
            out[off[0]] = (scalars & SCALAR_A) ? a_value : a[off[2]];
        else
            out[off[0]] = (scalars & SCALAR_B) ? b_value : b[off[3]];
    }
}

// out[...] = value (out may be a strided view).
template <typename T> __device__ void fill_body(const int* __restrict__ layout, T* out, int n, T value)
{
    int off[1];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        layout_offsets(layout, i, 1, off);
        out[off[0]] = value;
    }
}

// Element k of x, whose dtype is `from` (uniform over the launch: no divergence), as To.
template <typename To> __device__ __forceinline__ To load_as(const void* x, int from, int k)
{
    switch (from) {
    case TYPE_F32: return (To)((const float*)x)[k];
    case TYPE_F64: return (To)((const double*)x)[k];
    case TYPE_I32: return (To)((const int*)x)[k];
    case TYPE_I64: return (To)((const long long*)x)[k];
    default: return (To)((const bool*)x)[k];
    }
}

// out = x converted to To (C conversions: to bool is x != 0); a copy when the dtypes agree.
template <typename To> __device__ void cast_body(const int* __restrict__ layout, To* out, const void* x, int n, int from)
{
    int off[2];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        layout_offsets(layout, i, 2, off);
        out[off[0]] = load_as<To>(x, from, off[1]);
    }
}

// Entry points every dtype has, bool included.
#define ANY_DTYPE_KERNELS(T, SFX)                                                                              \
    extern "C" __global__ void compare_##SFX(const int* __restrict__ layout, bool* out, const T* a, const T* b, \
                                             int n, int op, T scalar, int scalars)                             \
    {                                                                                                          \
        binary_body<Compare>(layout, out, a, b, n, op, scalar, scalars);                                       \
    }                                                                                                          \
    extern "C" __global__ void where_##SFX(const int* __restrict__ layout, T* out, const bool* cond, const T* a, \
                                           const T* b, int n, T a_value, T b_value, int scalars)               \
    {                                                                                                          \
        where_body(layout, out, cond, a, b, n, a_value, b_value, scalars);                                     \
    }                                                                                                          \
    extern "C" __global__ void fill_##SFX(const int* __restrict__ layout, T* out, int n, T value)              \
    {                                                                                                          \
        fill_body(layout, out, n, value);                                                                      \
    }                                                                                                          \
    extern "C" __global__ void cast_##SFX(const int* __restrict__ layout, T* out, const void* x, int n, int from) \
    {                                                                                                          \
        cast_body(layout, out, x, n, from);                                                                    \
    }

// Entry points of the numeric dtypes (arithmetic and unary maths).
#define NUMERIC_KERNELS(T, SFX)                                                                                \
    ANY_DTYPE_KERNELS(T, SFX)                                                                                  \
    extern "C" __global__ void binary_##SFX(const int* __restrict__ layout, T* out, const T* a, const T* b,    \
                                            int n, int op, T scalar, int scalars)                              \
    {                                                                                                          \
        binary_body<Arith>(layout, out, a, b, n, op, scalar, scalars);                                         \
    }                                                                                                          \
    extern "C" __global__ void unary_##SFX(const int* __restrict__ layout, T* out, const T* x, int n, int op,  \
                                           T lo, T hi)                                                         \
    {                                                                                                          \
        unary_body(layout, out, x, n, op, lo, hi);                                                             \
    }

NUMERIC_KERNELS(float, f32)
NUMERIC_KERNELS(double, f64)
NUMERIC_KERNELS(int, i32)
NUMERIC_KERNELS(long long, i64)
ANY_DTYPE_KERNELS(bool, b8)

// float32 arithmetic on contiguous operands, four elements per load (n4 = n / 4, every
// pointer 16-byte aligned: the wrapper checks).
extern "C" __global__ void binary_vec4(float4* out, const float4* a, const float4* b, int n4, int op, float scalar,
                                       int scalars)
{
    float4 s = make_float4(scalar, scalar, scalar, scalar);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
        float4 u = (scalars & SCALAR_A) ? s : a[i];
        float4 v = (scalars & SCALAR_B) ? s : b[i];
        out[i] = make_float4(arith(op, u.x, v.x), arith(op, u.y, v.y), arith(op, u.z, v.z), arith(op, u.w, v.w));
    }
}
