// 2-D max, average and adaptive average pooling, forward and backward (float32, contiguous NCHW).
//
// x is viewed as planes = N * C planes of H x W; y as planes of OH x OW, with
//   OH = (H + 2 ph - kh) / sh + 1,  OW = (W + 2 pw - kw) / sw + 1
// (or rounded up for ceil_mode: the host computes OH, OW, gpudl/cpu/geometry.py).
// Output (oh, ow) looks at the window of rows  oh*sh - ph .. oh*sh - ph + kh - 1
// and columns  ow*sw - pw .. ow*sw - pw + kw - 1;  rows/columns outside 0..H-1 / 0..W-1 are padding.
//
//   max:  y = max over the in-bounds window (padding counts as -inf),
//         argmax = ih * W + iw of the winner inside its plane (int32; the last NaN wins,
//         otherwise the first maximum in row-major window order)
//   avg:  y = sum over in-bounds window / d, where d = the number of window pixels inside the
//         padded input (rows -ph .. H + ph - 1: kh * kw unless a ceil_mode window reaches past
//         it) when count_include_pad (padding counts as zeros; PyTorch's default) and
//         d = number of in-bounds pixels otherwise
//   adaptive avg:  output o of an axis of length H (OH outputs) averages the rows
//         floor(o H / OH) .. ceil((o + 1) H / OH) - 1 (the windows cover the axis, and may overlap)
//
// Backward kernels are gathers: one thread per input pixel adds the contributions of the
// (at most ceil(kh/sh) * ceil(kw/sw)) windows that contain it, in a fixed order.  No atomics,
// so overlapping windows are race-free and the result is deterministic.

// First and last window index along one axis whose window contains input position i:
// windows o with o*s - p <= i <= o*s - p + k - 1, clipped to 0..out-1.
__device__ __forceinline__ void windows_containing(int i, int k, int s, int p, int out, int* first, int* last)
{
    int hi = i + p;                      // o*s <= hi
    int lo = hi - k + 1;                 // o*s >= lo
    *first = lo <= 0 ? 0 : (lo + s - 1) / s;
    *last = min(hi / s, out - 1);
}

// The windows (oh0..oh1) x (ow0..ow1) containing pixel pix of a plane, and where that plane's
// outputs start (base): what both backward gathers loop over.
struct PixelWindows {
    int oh0, oh1, ow0, ow1;
    size_t base;
};

__device__ __forceinline__ PixelWindows pixel_windows(int i, int H, int W, int OH, int OW, int kh, int kw,
                                                      int sh, int sw, int ph, int pw)
{
    PixelWindows r;
    int pix = i % (H * W);
    windows_containing(pix / W, kh, sh, ph, OH, &r.oh0, &r.oh1);
    windows_containing(pix % W, kw, sw, pw, OW, &r.ow0, &r.ow1);
    r.base = (size_t)(i / (H * W)) * OH * OW;
    return r;
}

extern "C" __global__ void max_pool2d_forward(const float* __restrict__ x, float* __restrict__ y,
                                              int* __restrict__ argmax, int planes, int H, int W,
                                              int OH, int OW, int kh, int kw, int sh, int sw,
                                              int ph, int pw)
{
    int n = planes * OH * OW;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int ow = i % OW, oh = (i / OW) % OH, plane = i / (OW * OH);
        const float* xp = x + (size_t)plane * H * W;
        int h0 = oh * sh - ph, w0 = ow * sw - pw;
        float best = 0.0f;  // replaced by the first in-bounds pixel (windows always hold one)
        int arg = -1;
        for (int r = max(h0, 0); r < min(h0 + kh, H); ++r)
            for (int c = max(w0, 0); c < min(w0 + kw, W); ++c) {
                float v = xp[r * W + c];
                if (arg < 0 || v > best || v != v) {
                    best = v;
                    arg = r * W + c;
                }
            }
        y[i] = best;
        argmax[i] = arg;
    }
}

// grad_x[p] = sum of grad_y over the windows that chose pixel p.
extern "C" __global__ void max_pool2d_backward(const float* __restrict__ grad_y, const int* __restrict__ argmax,
                                               float* __restrict__ grad_x, int planes, int H, int W,
                                               int OH, int OW, int kh, int kw, int sh, int sw,
                                               int ph, int pw)
{
    int n = planes * H * W;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int pix = i % (H * W);
        PixelWindows win = pixel_windows(i, H, W, OH, OW, kh, kw, sh, sw, ph, pw);
        float acc = 0.0f;
        for (int oh = win.oh0; oh <= win.oh1; ++oh)
            for (int ow = win.ow0; ow <= win.ow1; ++ow)
                if (argmax[win.base + oh * OW + ow] == pix) acc += grad_y[win.base + oh * OW + ow];
        grad_x[i] = acc;
    }
}

// Pixels of window o along one axis that average pooling counts: those inside the padded
// input (count_include_pad) or inside the input.
__device__ __forceinline__ int window_count(int o, int k, int s, int p, int size, int count_include_pad)
{
    int start = o * s - p, end = min(start + k, size + p);
    return count_include_pad ? end - start : min(end, size) - max(start, 0);
}

// Divisor d of window (oh, ow) for average pooling (see the header).
__device__ __forceinline__ int avg_divisor(int oh, int ow, int H, int W, int kh, int kw, int sh, int sw,
                                           int ph, int pw, int count_include_pad)
{
    return window_count(oh, kh, sh, ph, H, count_include_pad) * window_count(ow, kw, sw, pw, W, count_include_pad);
}

extern "C" __global__ void avg_pool2d_forward(const float* __restrict__ x, float* __restrict__ y, int planes,
                                              int H, int W, int OH, int OW, int kh, int kw, int sh, int sw,
                                              int ph, int pw, int count_include_pad)
{
    int n = planes * OH * OW;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int ow = i % OW, oh = (i / OW) % OH, plane = i / (OW * OH);
        const float* xp = x + (size_t)plane * H * W;
        int h0 = oh * sh - ph, w0 = ow * sw - pw;
        float acc = 0.0f;
        for (int r = max(h0, 0); r < min(h0 + kh, H); ++r)
            for (int c = max(w0, 0); c < min(w0 + kw, W); ++c) acc += xp[r * W + c];
        y[i] = acc / (float)avg_divisor(oh, ow, H, W, kh, kw, sh, sw, ph, pw, count_include_pad);
    }
}

// grad_x[p] = sum over windows containing p of grad_y / d.
extern "C" __global__ void avg_pool2d_backward(const float* __restrict__ grad_y, float* __restrict__ grad_x,
                                               int planes, int H, int W, int OH, int OW, int kh, int kw,
                                               int sh, int sw, int ph, int pw, int count_include_pad)
{
    int n = planes * H * W;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        PixelWindows win = pixel_windows(i, H, W, OH, OW, kh, kw, sh, sw, ph, pw);
        float acc = 0.0f;
        for (int oh = win.oh0; oh <= win.oh1; ++oh)
            for (int ow = win.ow0; ow <= win.ow1; ++ow)
                acc += grad_y[win.base + oh * OW + ow] /
                       (float)avg_divisor(oh, ow, H, W, kh, kw, sh, sw, ph, pw, count_include_pad);
        grad_x[i] = acc;
    }
}

// Adaptive window of output o along an axis of length `size` split into `out`: [start, end).
__device__ __forceinline__ int adaptive_start(int o, int size, int out) { return o * size / out; }
__device__ __forceinline__ int adaptive_end(int o, int size, int out) { return ((o + 1) * size + out - 1) / out; }

extern "C" __global__ void adaptive_avg_pool2d_forward(const float* __restrict__ x, float* __restrict__ y,
                                                       int planes, int H, int W, int OH, int OW)
{
    int n = planes * OH * OW;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int ow = i % OW, oh = (i / OW) % OH, plane = i / (OW * OH);
        const float* xp = x + (size_t)plane * H * W;
        int h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
        int w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
        float acc = 0.0f;
        for (int r = h0; r < h1; ++r)
            for (int c = w0; c < w1; ++c) acc += xp[r * W + c];
        y[i] = acc / (float)((h1 - h0) * (w1 - w0));
    }
}

// grad_x[p] = sum over the windows containing p of grad_y / (window size).  Along an axis, pixel i
// lies in windows o with start(o) <= i < end(o), i.e. floor(i out / size) <= o <= floor(((i + 1) out - 1) / size).
extern "C" __global__ void adaptive_avg_pool2d_backward(const float* __restrict__ grad_y, float* __restrict__ grad_x,
                                                        int planes, int H, int W, int OH, int OW)
{
    int n = planes * H * W;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int iw = i % W, ih = (i / W) % H;
        size_t base = (size_t)(i / (H * W)) * OH * OW;
        float acc = 0.0f;
        for (int oh = ih * OH / H; oh <= ((ih + 1) * OH - 1) / H; ++oh) {
            int rows = adaptive_end(oh, H, OH) - adaptive_start(oh, H, OH);
            for (int ow = iw * OW / W; ow <= ((iw + 1) * OW - 1) / W; ++ow) {
                int cols = adaptive_end(ow, W, OW) - adaptive_start(ow, W, OW);
                acc += grad_y[base + oh * OW + ow] / (float)(rows * cols);
            }
        }
        grad_x[i] = acc;
    }
}
