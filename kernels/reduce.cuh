// Shared by reduce.cu and softmax.cu: strided offsets from a layout array, the lane layout of
// a block, and a deterministic shared-memory tree that reduces one row per group of lanes.
//
// Layout array (gpudl/gpu/strides.py layout_array):
//   lay[0] = ndim,  lay[1 .. ndim] = dims,  then ndim element strides per operand.
// Position i (row-major over dims) of operand k sits at element layout_offset(lay, i, k).
//
// A block of blockDim.x threads is rows x lanes (lanes a power of two): `lanes` threads share
// one row (one output), `rows = blockDim.x / lanes` rows per block.  Row mode puts the lanes
// of a row next to each other (thread t = row * lanes + lane: a long contiguous row is read
// coalesced); column mode puts neighbouring rows next to each other (t = lane * rows + row:
// neighbouring outputs that are neighbours in memory are read coalesced).  Either way the
// shared-memory slot of a thread is t, and lane l's partner in the tree is l + s, `step`
// slots further on.

#include "layout.cuh"

#define REDUCE_THREADS 256

struct Lanes {
    int t, lane, row, rows, lanes, step;
};

__device__ __forceinline__ Lanes lanes_of(int lanes, int columns)
{
    Lanes g;
    g.t = threadIdx.x;
    g.lanes = lanes;
    g.rows = blockDim.x / lanes;
    g.lane = columns ? g.t / g.rows : g.t % lanes;
    g.row = columns ? g.t % g.rows : g.t / lanes;
    g.step = columns ? g.rows : 1;
    return g;
}

template <class T> struct Limits;
template <> struct Limits<float> {
    __device__ static float lowest() { return __uint_as_float(0xff800000u); }   // -inf
    __device__ static float highest() { return __uint_as_float(0x7f800000u); }  // +inf
    __device__ static float nan() { return __uint_as_float(0x7fc00000u); }
};
template <> struct Limits<double> {
    __device__ static double lowest() { return __longlong_as_double((long long)0xfff0000000000000ULL); }
    __device__ static double highest() { return __longlong_as_double(0x7ff0000000000000LL); }
    __device__ static double nan() { return __longlong_as_double(0x7ff8000000000000LL); }
};
template <> struct Limits<long long> {
    __device__ static long long lowest() { return -9223372036854775807LL - 1; }
    __device__ static long long highest() { return 9223372036854775807LL; }
};

// Binary operations of the tree: identity e with combine(e, a) = a.
template <class T> struct Sum {
    __device__ static T identity() { return T(0); }
    __device__ static T combine(T a, T b) { return a + b; }
};
// max / min propagate NaN like NumPy: a NaN on either side wins (a != a only for NaN).
template <class T> struct Max {
    __device__ static T identity() { return Limits<T>::lowest(); }
    __device__ static T combine(T a, T b) { return (a != a || a > b) ? a : b; }
};
template <class T> struct Min {
    __device__ static T identity() { return Limits<T>::highest(); }
    __device__ static T combine(T a, T b) { return (a != a || a < b) ? a : b; }
};

// The row's total of v over its lanes, returned to every lane of the row: a pairwise tree in
// buf (blockDim.x slots) with a barrier per level; fixed order, so bit-reproducible.  Every
// thread of the block must call it (it has barriers); buf may be reused right after.
template <template <class> class Op, class T>
__device__ T block_tree(T* buf, T v, const Lanes& g)
{
    buf[g.t] = v;
    __syncthreads();
    for (int s = g.lanes / 2; s > 0; s /= 2) {
        if (g.lane < s) buf[g.t] = Op<T>::combine(buf[g.t], buf[g.t + s * g.step]);
        __syncthreads();
    }
    T total = buf[g.t - g.lane * g.step];
    __syncthreads();
    return total;
}
