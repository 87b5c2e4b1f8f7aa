// Integer-array indexing on the leading axes (gather) and its gradient (scatter-add).
//
// x has shape (d_0, ..., d_{k-1}) + R; k index arrays i_0 .. i_{k-1} broadcast to shape S.
// The index position s in S selects the "row" (the flat C-order position over the k leading axes)
//
//   row[s] = (((i_0[s]) d_1 + i_1[s]) d_2 + ...) d_{k-1} + i_{k-1}[s],   i < 0 counts from the end (i + d)
//
// and then, with r a flat position in R,
//
//   take        y[s, r] = x[row[s], r]
//   index_add   out[row, r] += sum over s with row[s] == row, in increasing s, of src[s, r]
//
// Out of range (i < -d or i >= d after the wrap): row[s] = -1; take writes 0 there and index_add
// skips that position, so no kernel reads or writes out of bounds (the ops layer checks ranges).
//
// index_add is deterministic without atomics: index_links chains the positions s that hit the same
// row (next[s] = the next such position, head[s] = 1 for the first), and one thread per (head s, r)
// walks its chain in increasing s, starting from out's value: the same order as np.add.at.
// Cost: index_links compares O(|S|^2) ints (one thread per s scans all of S), index_add adds
// O(|S| |R|) values; fine for the index counts autograd meets (a batch of labels or tokens).
//
// Strided operands come with a layout array (gpudl/gpu/strides.py):
//   lay[0] = ndim, lay[1 .. ndim] = dims, then ndim element strides per operand.

#include "layout.cuh"

// rows[s] = rows[s] * dim + wrap(idx[s])  (just wrap(idx[s]) when first), -1 once any index is out of
// range; idx is strided / broadcast over S by `lay`.  One launch per index array, leading axis first.
extern "C" __global__ void index_rows(const long long* __restrict__ idx, const int* __restrict__ lay,
                                      int* __restrict__ rows, int n, int dim, int first)
{
    for (int s = blockIdx.x * blockDim.x + threadIdx.x; s < n; s += gridDim.x * blockDim.x) {
        long long v = idx[layout_offset(lay, s, 0)];
        if (v < 0) v += dim;
        int prev = first ? 0 : rows[s];
        rows[s] = (prev < 0 || v < 0 || v >= dim) ? -1 : prev * dim + (int)v;
    }
}

// next[s] = the smallest t > s with rows[t] == rows[s] (n if none); head[s] = 1 when no t < s has it.
extern "C" __global__ void index_links(const int* __restrict__ rows, int* __restrict__ next,
                                       int* __restrict__ head, int n)
{
    for (int s = blockIdx.x * blockDim.x + threadIdx.x; s < n; s += gridDim.x * blockDim.x) {
        int row = rows[s];
        int first = 1;
        for (int t = 0; t < s && first; ++t) first = rows[t] != row;
        int after = n;
        for (int t = s + 1; t < n; ++t) {
            if (rows[t] == row) {
                after = t;
                break;
            }
        }
        next[s] = after;
        head[s] = first;
    }
}

// y[e] = x[row[s], r] for e = s * inner + r; x strided by `lead` (its k leading axes) and `rest`.
template <typename T>
__device__ void take_body(const T* __restrict__ x, const int* __restrict__ rows, T* __restrict__ y,
                          const int* __restrict__ lead, const int* __restrict__ rest, int n, int inner)
{
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
        int s = e / inner, r = e - s * inner;
        int row = rows[s];
        y[e] = row < 0 ? T(0) : x[layout_offset(lead, row, 0) + layout_offset(rest, r, 0)];
    }
}

// out[row, r] += src[s, r] over the chain of positions s hitting row, for e = s * inner + r with s a
// head; out is contiguous, src strided / broadcast over S + R by `lay`.
template <typename T>
__device__ void index_add_body(T* __restrict__ out, const T* __restrict__ src, const int* __restrict__ rows,
                               const int* __restrict__ next, const int* __restrict__ head,
                               const int* __restrict__ lay, int n, int count, int inner)
{
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
        int s = e / inner, r = e - s * inner;
        int row = rows[s];
        if (row < 0 || !head[s]) continue;
        T acc = out[row * inner + r];
        for (int t = s; t < count; t = next[t]) acc += src[layout_offset(lay, t * inner + r, 0)];
        out[row * inner + r] = acc;
    }
}

#define INDEX_KERNELS(T, SFX)                                                                              \
    extern "C" __global__ void take_##SFX(const T* __restrict__ x, const int* __restrict__ rows,           \
                                          T* __restrict__ y, const int* __restrict__ lead,                 \
                                          const int* __restrict__ rest, int n, int inner)                  \
    {                                                                                                      \
        take_body<T>(x, rows, y, lead, rest, n, inner);                                                    \
    }                                                                                                      \
    extern "C" __global__ void index_add_##SFX(T* __restrict__ out, const T* __restrict__ src,             \
                                               const int* __restrict__ rows, const int* __restrict__ next, \
                                               const int* __restrict__ head, const int* __restrict__ lay,  \
                                               int n, int count, int inner)                                \
    {                                                                                                      \
        index_add_body<T>(out, src, rows, next, head, lay, n, count, inner);                               \
    }

INDEX_KERNELS(float, f32)
INDEX_KERNELS(double, f64)
INDEX_KERNELS(long long, i64)
