// Multi-tensor optimizer updates: one launch updates every parameter of a group.
//
// The parameters of a group live in one flat buffer p, their gradients in one flat buffer g
// and each kind of optimizer state in one flat buffer of the same length (gpudl/optim/flat.py).
// A launch updates the elements [start, start + count) -- a run of consecutive parameters
// that have gradients -- with a grid-stride loop; element j touches only index j of every
// buffer, so any thread order gives the same result.
//
// The learning rate η and the step count t are read from device memory (lr[0], step[0]):
// a scheduler's new η and the next t need no new kernel arguments and no host sync.
// optim_tick advances t once per optimizer step of the group, before the update.
//
// Hyperparameters arrive as double; the per-launch coefficients (bias corrections 1 − βᵗ,
// η_t, ...) are formed in double, then every per-element operation runs in the buffers'
// type T (float or double).  Notation: θ = p, g_t = g, λ = weight_decay, ε = eps.
//
//   L2 decay (all but decoupled Adam):  g_t ← g_t + λ θ
//   sgd       v_1 = g_1, v_t = μ v_{t−1} + (1 − τ) g_t;  θ ← θ − η v_t  (Nesterov: θ ← θ − η (g_t + μ v_t))
//   adagrad   s_t = s_{t−1} + g_t²;  θ ← θ − η / (1 + (t − 1) lr_decay) · g_t / (√s_t + ε)
//   rmsprop   v_t = α v_{t−1} + (1 − α) g_t²;  centered: ḡ_t = α ḡ_{t−1} + (1 − α) g_t, ṽ_t = v_t − ḡ_t²
//             d = g_t / (√ṽ_t + ε);  momentum: b_t = μ b_{t−1} + d, d = b_t;  θ ← θ − η d
//   adadelta  v_t = ρ v_{t−1} + (1 − ρ) g_t²;  Δ = √(u_{t−1} + ε) / √(v_t + ε) · g_t
//             u_t = ρ u_{t−1} + (1 − ρ) Δ²;  θ ← θ − η Δ
//   adam      m_t = β₁ m_{t−1} + (1 − β₁) g_t,  v_t = β₂ v_{t−1} + (1 − β₂) g_t²
//             amsgrad: v_t^max = max(v_{t−1}^max, v_t) replaces v_t below
//             θ ← θ − η / (1 − β₁ᵗ) · m_t / (√v_t / √(1 − β₂ᵗ) + ε)
//             decoupled (AdamW): θ ← (1 − η λ) θ first, and g_t keeps no λ θ term
//
// Unused state pointers (no momentum, not centered, no amsgrad) may alias p: they are
// never dereferenced.  Entry points per type: <name>_f32, <name>_f64.

// The elements of the run [start, start + count) this thread updates (grid-stride).
#define FOR_RUN(j)                                                                                   \
    for (int i_ = blockIdx.x * blockDim.x + threadIdx.x, j = start + i_; i_ < count;                 \
         i_ += gridDim.x * blockDim.x, j = start + i_)

// t ← t + 1 (one thread; launched once per optimizer step of a group, before its update).
extern "C" __global__ void optim_tick(int* step)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) step[0] += 1;
}

// g + λθ (L2 weight decay) when λ ≠ 0, else g unchanged.
template <class T>
__device__ __forceinline__ T l2(T g, T theta, T weight_decay)
{
    return weight_decay != T(0) ? g + weight_decay * theta : g;
}

// max(a, b) that propagates NaN from either side, like numpy.maximum.
template <class T>
__device__ __forceinline__ T nan_max(T a, T b)
{
    return (a != a || a > b) ? a : b;
}

template <class T>
__device__ void sgd_body(T* p, const T* g, T* momentum_buf, const T* lr, const int* step, double momentum,
                         double dampening, double weight_decay, int nesterov, int start, int count)
{
    const T eta = lr[0], wd = T(weight_decay), mu = T(momentum), keep = T(1.0 - dampening);
    const bool first = momentum != 0.0 && step[0] == 1;  // v_1 = g_1
    FOR_RUN(j) {
        T d = l2(g[j], p[j], wd);
        if (momentum != 0.0) {
            T v = first ? d : mu * momentum_buf[j] + keep * d;
            momentum_buf[j] = v;
            d = nesterov ? d + mu * v : v;
        }
        p[j] = p[j] - eta * d;
    }
}

template <class T>
__device__ void adagrad_body(T* p, const T* g, T* state_sum, const T* lr, const int* step, double lr_decay,
                             double weight_decay, double eps, int start, int count)
{
    const T eta_t = T((double)lr[0] / (1.0 + (step[0] - 1) * lr_decay)), wd = T(weight_decay), e = T(eps);
    FOR_RUN(j) {
        T d = l2(g[j], p[j], wd);
        T s = state_sum[j] + d * d;
        state_sum[j] = s;
        p[j] = p[j] - eta_t * d / (sqrt(s) + e);
    }
}

template <class T>
__device__ void rmsprop_body(T* p, const T* g, T* square_avg, T* grad_avg, T* momentum_buf, const T* lr,
                             double alpha, double eps, double weight_decay, double momentum, int centered,
                             int start, int count)
{
    const T eta = lr[0], a = T(alpha), rest = T(1.0 - alpha), e = T(eps), wd = T(weight_decay), mu = T(momentum);
    FOR_RUN(j) {
        T d = l2(g[j], p[j], wd);
        T v = a * square_avg[j] + rest * (d * d);
        square_avg[j] = v;
        if (centered) {
            T mean = a * grad_avg[j] + rest * d;
            grad_avg[j] = mean;
            v = v - mean * mean;
        }
        T scaled = d / (sqrt(v) + e);
        if (momentum > 0.0) {
            scaled = mu * momentum_buf[j] + scaled;
            momentum_buf[j] = scaled;
        }
        p[j] = p[j] - eta * scaled;
    }
}

template <class T>
__device__ void adadelta_body(T* p, const T* g, T* square_avg, T* acc_delta, const T* lr, double rho, double eps,
                              double weight_decay, int start, int count)
{
    const T eta = lr[0], r = T(rho), rest = T(1.0 - rho), e = T(eps), wd = T(weight_decay);
    FOR_RUN(j) {
        T d = l2(g[j], p[j], wd);
        T v = r * square_avg[j] + rest * (d * d);
        square_avg[j] = v;
        T delta = sqrt(acc_delta[j] + e) / sqrt(v + e) * d;
        acc_delta[j] = r * acc_delta[j] + rest * (delta * delta);
        p[j] = p[j] - eta * delta;
    }
}

template <class T>
__device__ void adam_body(T* p, const T* g, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* lr,
                          const int* step, double beta1, double beta2, double eps, double weight_decay, int amsgrad,
                          int decoupled, int start, int count)
{
    const double eta = lr[0], t = step[0];
    const T step_size = T(eta / (1.0 - pow(beta1, t))), inv_root_bc2 = T(1.0 / sqrt(1.0 - pow(beta2, t)));
    const T b1 = T(beta1), rest1 = T(1.0 - beta1), b2 = T(beta2), rest2 = T(1.0 - beta2), e = T(eps);
    const T wd = decoupled ? T(0) : T(weight_decay), shrink = T(1.0 - eta * weight_decay);
    const bool shrinks = decoupled && weight_decay != 0.0;
    FOR_RUN(j) {
        T theta = shrinks ? p[j] * shrink : p[j];
        T d = l2(g[j], theta, wd);
        T m = b1 * exp_avg[j] + rest1 * d;
        T v = b2 * exp_avg_sq[j] + rest2 * (d * d);
        exp_avg[j] = m;
        exp_avg_sq[j] = v;
        if (amsgrad) {
            v = nan_max(max_exp_avg_sq[j], v);
            max_exp_avg_sq[j] = v;
        }
        p[j] = theta - step_size * (m / (sqrt(v) * inv_root_bc2 + e));
    }
}

// extern "C" entry points for one element type T with suffix S.
#define OPTIM_KERNELS(T, S)                                                                                   \
    extern "C" __global__ void sgd_step_##S(T* p, const T* g, T* momentum_buf, const T* lr, const int* step,  \
                                            double momentum, double dampening, double weight_decay,           \
                                            int nesterov, int start, int count)                               \
    {                                                                                                         \
        sgd_body<T>(p, g, momentum_buf, lr, step, momentum, dampening, weight_decay, nesterov, start, count); \
    }                                                                                                         \
    extern "C" __global__ void adagrad_step_##S(T* p, const T* g, T* state_sum, const T* lr, const int* step, \
                                                double lr_decay, double weight_decay, double eps, int start,  \
                                                int count)                                                    \
    {                                                                                                         \
        adagrad_body<T>(p, g, state_sum, lr, step, lr_decay, weight_decay, eps, start, count);               \
    }                                                                                                         \
    extern "C" __global__ void rmsprop_step_##S(T* p, const T* g, T* square_avg, T* grad_avg,                 \
                                                T* momentum_buf, const T* lr, double alpha, double eps,       \
                                                double weight_decay, double momentum, int centered,           \
                                                int start, int count)                                         \
    {                                                                                                         \
        rmsprop_body<T>(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay, momentum,    \
                        centered, start, count);                                                              \
    }                                                                                                         \
    extern "C" __global__ void adadelta_step_##S(T* p, const T* g, T* square_avg, T* acc_delta, const T* lr,  \
                                                 double rho, double eps, double weight_decay, int start,      \
                                                 int count)                                                   \
    {                                                                                                         \
        adadelta_body<T>(p, g, square_avg, acc_delta, lr, rho, eps, weight_decay, start, count);             \
    }                                                                                                         \
    extern "C" __global__ void adam_step_##S(T* p, const T* g, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,  \
                                             const T* lr, const int* step, double beta1, double beta2,        \
                                             double eps, double weight_decay, int amsgrad, int decoupled,     \
                                             int start, int count)                                            \
    {                                                                                                         \
        adam_body<T>(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, step, beta1, beta2, eps, weight_decay,   \
                     amsgrad, decoupled, start, count);                                                       \
    }

OPTIM_KERNELS(float, f32)
OPTIM_KERNELS(double, f64)
