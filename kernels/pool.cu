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
//
// Staged forwards (max, avg): a block takes a tile of outputs (tile_rows output rows from oh0 of one
// plane, or tile_planes whole planes), copies the pixels their windows read to shared memory and,
// after __syncthreads, computes each output from there with the direct window loop (same pixels in
// the same order: bit-identical results).  The copy is space-to-depth by the stride: pixel (r, c)
// of tile plane g, r + ph = sh vr + i, c + pw = sw vc + j, goes to word g P + (vr - oh0) V + vc of
// sub-grid (i, j), with V = OW + (kw - 1) / sw, P = (tile_rows + (kh - 1) / sh) V and sub-grids of
// `subgrid` words for the min(kh, sh) x min(kw, sw) phases a window uses.  Thread p computes the
// output at p = g P + (oh - oh0) V + ow, so each tap of a warp's windows is consecutive words of one
// sub-grid.  A warp copies the input rows of one virtual row at a time, 32 columns a step
// (coalesced), starting pw % sw columns early so that lane l holds phase l % sw; gpudl/gpu/pool.py
// (tiling) sizes subgrid so that these 32 pixels fall in distinct banks.  The tile loop's bound is
// block-uniform, so all threads reach each __syncthreads; tile_rows = 0 (not even one output row
// fits) runs the direct loop.

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

// The pooling geometry: the forward kernels' int arguments.
struct PoolShape {
    int planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw;
};

// Stepping along one axis of a window: `step` words to the next phase, `wrap` from the last one on.
struct TapAxis {
    int phases, step, wrap;
};

// A window: tap (0, 0) at src[at], its top-left pixel (h0, w0) (which may lie in the padding).
struct Window {
    const float* src;
    int at, h0, w0;
    TapAxis rows, cols;
};

__device__ __forceinline__ int next_tap(const TapAxis& a, int* phase)
{
    if (++*phase < a.phases) return a.step;
    *phase = 0;
    return a.wrap;
}

// visit(value, pixel) for the in-bounds pixels of the window in row-major order; pixel = r * W + c.
template <class Visit>
__device__ __forceinline__ void for_each_pixel(const Window& win, const PoolShape& s, Visit& visit)
{
    int row = win.at;
    for (int i = 0, ip = 0; i < s.kh; ++i) {
        int r = win.h0 + i;
        if (r >= 0 && r < s.H)
            for (int j = 0, jp = 0, at = row; j < s.kw; ++j) {
                int c = win.w0 + j;
                if (c >= 0 && c < s.W) visit(win.src[at], r * s.W + c);
                at += next_tap(win.cols, &jp);
            }
        row += next_tap(win.rows, &ip);
    }
}

// The shared-memory layout of a tile (see the header).
struct TileLayout {
    int subgrid, kh2, kw2, vw, plane_words;
};

__device__ __forceinline__ TileLayout tile_layout(const PoolShape& s, int tile_rows, int subgrid)
{
    int vw = s.OW + (s.kw - 1) / s.sw;
    TileLayout L = {subgrid, min(s.kh, s.sh), min(s.kw, s.sw), vw, (tile_rows + (s.kh - 1) / s.sh) * vw};
    return L;
}

// Copies the input rows of planes plane0.. (np of them) read by output rows oh0.. (nr) into tile.
__device__ __forceinline__ void stage_tile(float* tile, const float* __restrict__ x, const PoolShape& s,
                                           const TileLayout& L, int plane0, int np, int oh0, int nr)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    int first = s.pw / s.sw, shift = s.pw % s.sw;  // steps start shift columns left, at virtual column first
    int step_vc = 32 / s.sw, step_j = 32 % s.sw;   // a step of 32 columns in (virtual column, phase)
    int lane_vc = lane / s.sw, lane_j = lane % s.sw;
    int vrows = nr + (s.kh - 1) / s.sh, r_hi = min((oh0 + nr - 1) * s.sh - s.ph + s.kh, s.H);
    for (int v = warp, g = warp / vrows, vr = warp % vrows; v < np * vrows; v += warps) {
        for (int i = 0; i < L.kh2; ++i) {
            int r = (oh0 + vr) * s.sh - s.ph + i;
            if (r < 0 || r >= r_hi) continue;  // padding, or a row no window of the tile reads
            float* dst = tile + i * L.kw2 * L.subgrid + g * L.plane_words + vr * L.vw + first;
            const float* src = x + ((size_t)(plane0 + g) * s.H + r) * s.W;
            for (int c = lane - shift, vc = lane_vc, j = lane_j; c < s.W; c += 32) {
                if (c >= 0 && j < L.kw2 && first + vc < L.vw) dst[j * L.subgrid + vc] = src[c];
                vc += step_vc;
                j += step_j;
                if (j >= s.sw) {
                    j -= s.sw;
                    ++vc;
                }
            }
        }
        for (vr += warps; vr >= vrows; vr -= vrows) ++g;  // this warp's next virtual row
    }
}

// out(window, output index, oh, ow) for every output: staged (the header), or from x when tile_rows = 0.
template <class Out>
__device__ __forceinline__ void pool_forward(const float* __restrict__ x, const PoolShape& s, int tile_rows,
                                             int tile_planes, int subgrid, Out& out)
{
    if (tile_rows == 0) {
        TapAxis rows = {1, 0, s.W}, cols = {1, 0, 1};
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < s.planes * s.OH * s.OW; i += gridDim.x * blockDim.x) {
            int ow = i % s.OW, oh = (i / s.OW) % s.OH, plane = i / (s.OW * s.OH);
            int h0 = oh * s.sh - s.ph, w0 = ow * s.sw - s.pw;
            Window win = {x + (size_t)plane * s.H * s.W, h0 * s.W + w0, h0, w0, rows, cols};
            out(win, i, oh, ow);
        }
        return;
    }
    extern __shared__ float tile[];
    TileLayout L = tile_layout(s, tile_rows, subgrid);
    TapAxis rows = {s.sh, L.kw2 * subgrid, L.vw - (s.sh - 1) * L.kw2 * subgrid};
    TapAxis cols = {s.sw, subgrid, 1 - (s.sw - 1) * subgrid};
    int per_plane = (s.OH + tile_rows - 1) / tile_rows;
    for (int t = blockIdx.x; t < (s.planes + tile_planes - 1) / tile_planes * per_plane; t += gridDim.x) {
        int plane0 = t / per_plane * tile_planes, oh0 = t % per_plane * tile_rows;
        int np = min(tile_planes, s.planes - plane0), nr = min(tile_rows, s.OH - oh0);
        stage_tile(tile, x, s, L, plane0, np, oh0, nr);
        __syncthreads();
        for (int p = threadIdx.x; p < (np - 1) * L.plane_words + nr * L.vw; p += blockDim.x) {
            int g = p / L.plane_words, oh = oh0 + p % L.plane_words / L.vw, ow = p % L.plane_words % L.vw;
            if (oh >= oh0 + nr || ow >= s.OW) continue;  // a halo position
            Window win = {tile, p, oh * s.sh - s.ph, ow * s.sw - s.pw, rows, cols};
            out(win, ((size_t)(plane0 + g) * s.OH + oh) * s.OW + ow, oh, ow);
        }
        __syncthreads();
    }
}

// The running maximum of a window (the convention of the header; windows always hold a pixel).
struct MaxOf {
    float best;
    int arg;
    __device__ void operator()(float v, int pixel)
    {
        if (arg < 0 || v > best || v != v) {
            best = v;
            arg = pixel;
        }
    }
};

struct MaxOut {
    PoolShape s;
    float* y;
    int* argmax;
    __device__ void operator()(const Window& win, size_t i, int, int)
    {
        MaxOf m = {0.0f, -1};
        for_each_pixel(win, s, m);
        y[i] = m.best;
        argmax[i] = m.arg;
    }
};

// Grid, block (a multiple of 32 threads) and shared memory: gpudl/gpu/pool.py (tiling).
extern "C" __global__ void max_pool2d_forward(const float* __restrict__ x, float* __restrict__ y,
                                              int* __restrict__ argmax, int planes, int H, int W,
                                              int OH, int OW, int kh, int kw, int sh, int sw,
                                              int ph, int pw, int tile_rows, int tile_planes, int subgrid)
{
    PoolShape s = {planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw};
    MaxOut out = {s, y, argmax};
    pool_forward(x, s, tile_rows, tile_planes, subgrid, out);
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

struct SumOf {
    float acc;
    __device__ void operator()(float v, int) { acc += v; }
};

struct AvgOut {
    PoolShape s;
    float* y;
    int count_include_pad;
    __device__ void operator()(const Window& win, size_t i, int oh, int ow)
    {
        SumOf sum = {0.0f};
        for_each_pixel(win, s, sum);
        y[i] = sum.acc / (float)avg_divisor(oh, ow, s.H, s.W, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, count_include_pad);
    }
};

// Grid, block (a multiple of 32 threads) and shared memory: gpudl/gpu/pool.py (tiling).
extern "C" __global__ void avg_pool2d_forward(const float* __restrict__ x, float* __restrict__ y, int planes,
                                              int H, int W, int OH, int OW, int kh, int kw, int sh, int sw,
                                              int ph, int pw, int count_include_pad, int tile_rows,
                                              int tile_planes, int subgrid)
{
    PoolShape s = {planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw};
    AvgOut out = {s, y, count_include_pad};
    pool_forward(x, s, tile_rows, tile_planes, subgrid, out);
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
