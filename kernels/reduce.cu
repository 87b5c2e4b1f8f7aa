// Reductions over any set of axes of a strided view: sum (scaled), max, min, var, argmax.
//
// The wrapper splits x's axes into kept and reduced and collapses each group: output o
// (row-major over the kept axes; out is contiguous) reads the row
//   x[layout_offset(kept, o) + layout_offset(red, r)],   r = 0 .. length-1.
// Lanes and rows of a block: reduce.cuh.  Each thread folds its strided share of the row in
// order, then the row's lanes meet in a shared-memory tree: a fixed order, no atomics.
//
//   sum      out[o] = scale * sum_r x[o, r]          (bool and ints add exactly in int64)
//   max/min  out[o] = max_r / min_r x[o, r]          (NaN propagates)
//   var      out[o] = sum_r (x[o, r] - m)^2 / max(length - ddof, 0),  m = sum_r x[o, r] / length
//   argmax   out[o] = the first r with x[o, r] = max_r x[o, r]  (the first NaN, if any)
//
// Two-pass split (sum, max, min): with gridDim.y = P > 1 block (b, p) reduces part p of P
// equal slices of each row and writes out[o * P + p]; a second launch reduces those
// (outputs, P) partials over P.  With P = 1 that is the whole row.

#include "reduce.cuh"

template <template <class> class Op, class In, class Acc, class Out>
__device__ void reduce_rows(const In* __restrict__ x, Out* __restrict__ out, const int* __restrict__ kept,
                            const int* __restrict__ red, int outputs, int length, int lanes, int columns,
                            double scale)
{
    __shared__ Acc buf[REDUCE_THREADS];
    Lanes g = lanes_of(lanes, columns);
    int per_part = (length + gridDim.y - 1) / gridDim.y;
    int begin = blockIdx.y * per_part;
    int end = min(begin + per_part, length);
    for (int first = blockIdx.x * g.rows; first < outputs; first += gridDim.x * g.rows) {
        int o = first + g.row;
        Acc acc = Op<Acc>::identity();
        if (o < outputs) {
            const In* row = x + layout_offset(kept, o, 0);
            for (int r = begin + g.lane; r < end; r += lanes)
                acc = Op<Acc>::combine(acc, Acc(row[layout_offset(red, r, 0)]));
        }
        acc = block_tree<Op>(buf, acc, g);
        if (o < outputs && g.lane == 0) out[o * gridDim.y + blockIdx.y] = Out(acc) * Out(scale);
    }
}

// sum_<in>: In -> Out (floats keep their dtype, bool and ints give int64).
#define SUM_ENTRY(NAME, SFX, IN, ACC, OUT)                                                                \
    extern "C" __global__ void NAME##_##SFX(const IN* __restrict__ x, OUT* __restrict__ out,              \
                                            const int* __restrict__ kept, const int* __restrict__ red,    \
                                            int outputs, int length, int lanes, int columns, double scale) \
    {                                                                                                     \
        reduce_rows<Sum, IN, ACC, OUT>(x, out, kept, red, outputs, length, lanes, columns, scale);        \
    }

SUM_ENTRY(sum, f32, float, float, float)
SUM_ENTRY(sum, f64, double, double, double)
SUM_ENTRY(sum, i64, long long, long long, long long)
SUM_ENTRY(sum, i32, int, long long, long long)
SUM_ENTRY(sum, b8, bool, long long, long long)
// scaled_sum_<int>: the exact int64 sum times a non-unit scale, as float64 (the mean of a mask).
SUM_ENTRY(scaled_sum, i64, long long, long long, double)
SUM_ENTRY(scaled_sum, i32, int, long long, double)
SUM_ENTRY(scaled_sum, b8, bool, long long, double)

#define EXTREMUM_ENTRY(NAME, OP, SFX, T)                                                                  \
    extern "C" __global__ void NAME##_##SFX(const T* __restrict__ x, T* __restrict__ out,                 \
                                            const int* __restrict__ kept, const int* __restrict__ red,    \
                                            int outputs, int length, int lanes, int columns)              \
    {                                                                                                     \
        reduce_rows<OP, T, T, T>(x, out, kept, red, outputs, length, lanes, columns, 1.0);                \
    }

EXTREMUM_ENTRY(max, Max, f32, float)
EXTREMUM_ENTRY(max, Max, f64, double)
EXTREMUM_ENTRY(max, Max, i64, long long)
EXTREMUM_ENTRY(min, Min, f32, float)
EXTREMUM_ENTRY(min, Min, f64, double)
EXTREMUM_ENTRY(min, Min, i64, long long)

// Two passes over each row inside one launch: the mean, then the squared deviations from it
// (no cancellation of sum x^2 - n m^2).  One launch, no split: a long row is one block's.
template <class T>
__device__ void variance_rows(const T* __restrict__ x, T* __restrict__ out, const int* __restrict__ kept,
                              const int* __restrict__ red, int outputs, int length, int lanes, int columns,
                              double ddof)
{
    __shared__ T buf[REDUCE_THREADS];
    Lanes g = lanes_of(lanes, columns);
    T denom = T(max(double(length) - ddof, 0.0));
    for (int first = blockIdx.x * g.rows; first < outputs; first += gridDim.x * g.rows) {
        int o = first + g.row;
        const T* row = x + (o < outputs ? layout_offset(kept, o, 0) : 0);
        int end = o < outputs ? length : 0;
        T acc = T(0);
        for (int r = g.lane; r < end; r += lanes) acc += row[layout_offset(red, r, 0)];
        T mean = block_tree<Sum>(buf, acc, g) / T(length);
        acc = T(0);
        for (int r = g.lane; r < end; r += lanes) {
            T d = row[layout_offset(red, r, 0)] - mean;
            acc += d * d;
        }
        acc = block_tree<Sum>(buf, acc, g);
        if (o < outputs && g.lane == 0) out[o] = acc / denom;
    }
}

#define VAR_ENTRY(SFX, T)                                                                                 \
    extern "C" __global__ void var_##SFX(const T* __restrict__ x, T* __restrict__ out,                    \
                                         const int* __restrict__ kept, const int* __restrict__ red,       \
                                         int outputs, int length, int lanes, int columns, double ddof)    \
    {                                                                                                     \
        variance_rows<T>(x, out, kept, red, outputs, length, lanes, columns, ddof);                      \
    }

VAR_ENTRY(f32, float)
VAR_ENTRY(f64, double)

// Does (v, i) come before the current best (best, at)?  Larger first, then the smaller index
// on ties; a NaN beats every number, and among NaNs the first one wins (NumPy's argmax).
template <class T>
__device__ __forceinline__ bool beats(T v, int i, T best, int at)
{
    if (best != best) return v != v && i < at;
    if (v != v) return true;
    return v > best || (v == best && i < at);
}

template <class T>
__device__ void argmax_rows(const T* __restrict__ x, long long* __restrict__ out, const int* __restrict__ kept,
                            const int* __restrict__ red, int outputs, int length, int lanes, int columns)
{
    __shared__ T vals[REDUCE_THREADS];
    __shared__ int where[REDUCE_THREADS];
    Lanes g = lanes_of(lanes, columns);
    for (int first = blockIdx.x * g.rows; first < outputs; first += gridDim.x * g.rows) {
        int o = first + g.row;
        T best = Limits<T>::lowest();
        int at = length;  // past the end: any element beats it
        if (o < outputs) {
            const T* row = x + layout_offset(kept, o, 0);
            for (int r = g.lane; r < length; r += lanes) {
                T v = row[layout_offset(red, r, 0)];
                if (beats(v, r, best, at)) best = v, at = r;
            }
        }
        vals[g.t] = best;
        where[g.t] = at;
        __syncthreads();
        for (int s = lanes / 2; s > 0; s /= 2) {
            int other = g.t + s * g.step;
            if (g.lane < s && beats(vals[other], where[other], vals[g.t], where[g.t])) {
                vals[g.t] = vals[other];
                where[g.t] = where[other];
            }
            __syncthreads();
        }
        if (o < outputs && g.lane == 0) out[o] = where[g.t];
        __syncthreads();
    }
}

#define ARGMAX_ENTRY(SFX, T)                                                                              \
    extern "C" __global__ void argmax_##SFX(const T* __restrict__ x, long long* __restrict__ out,          \
                                            const int* __restrict__ kept, const int* __restrict__ red,    \
                                            int outputs, int length, int lanes, int columns)              \
    {                                                                                                     \
        argmax_rows<T>(x, out, kept, red, outputs, length, lanes, columns);                              \
    }

ARGMAX_ENTRY(f32, float)
ARGMAX_ENTRY(f64, double)
ARGMAX_ENTRY(i64, long long)
