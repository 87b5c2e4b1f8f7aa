// Strided and broadcast operands, as the kernels see them (gpudl/gpu/strides.py layout_array):
//   lay[0] = ndim,  lay[1 .. ndim] = dims,  then ndim element strides per operand, in order.
// ndim == 0 marks "every operand contiguous": position i is element i of each.
// Shared by every family that walks strided views: #include "layout.cuh"
// (gpudl.gpu.loader.source_text pastes it in once).

// Element offset of the flat C-order position i in operand `operand`.
__device__ __forceinline__ int layout_offset(const int* __restrict__ lay, int i, int operand)
{
    int ndim = lay[0];
    if (ndim == 0) return i;
    const int* dims = lay + 1;
    const int* strides = lay + 1 + ndim * (1 + operand);
    int off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
        int q = i / dims[d];
        off += (i - q * dims[d]) * strides[d];
        i = q;
    }
    return off;
}

// The offsets of position i in the first `count` operands at once (one division per axis).
__device__ __forceinline__ void layout_offsets(const int* __restrict__ lay, int i, int count, int* off)
{
    int ndim = lay[0];
    for (int k = 0; k < count; ++k) off[k] = ndim == 0 ? i : 0;
    const int* strides = lay + 1 + ndim;
    for (int d = ndim - 1; d >= 0; --d) {
        int extent = lay[1 + d];
        int c = i % extent;
        i /= extent;
        for (int k = 0; k < count; ++k) off[k] += c * strides[k * ndim + d];
    }
}
