// The activation table shared by every kernel family that applies one (activation.cu's fused
// bias + activation, gemm.cu's epilogue): f(z) and f'(z) for each activation code, for float
// and double (templates; the float versions call expf / tanhf / erff ...).  kernels/*.cu include
// it with #include "activation.cuh" (gpudl.gpu.loader.source_text pastes it in once).
//
// Two parameters: `slope` (leaky_relu's negative slope, elu's alpha, softplus's beta) and
// `threshold` (softplus's; the GEMM epilogue passes none and gets PyTorch's default 20).
//
// Activation codes (kept in sync with gpudl/cpu/geometry.py ACTIVATIONS):
//   0 identity   f(z) = z
//   1 relu       f(z) = max(z, 0)
//   2 leaky      f(z) = z if z > 0 else slope * z
//   3 sigmoid    f(z) = s(z) = 1 / (1 + e^-z)
//   4 tanh       f(z) = tanh z
//   5 gelu_tanh  f(z) = z/2 (1 + tanh u),  u = sqrt(2/pi) (z + 0.044715 z^3)   (tanh approximation)
//   6 gelu       f(z) = z/2 (1 + erf(z / sqrt 2)) = z Phi(z)                    (exact)
//   7 elu        f(z) = z if z > 0 else alpha (e^z - 1)
//   8 silu       f(z) = z s(z)
//   9 softplus   f(z) = log(1 + e^{beta z}) / beta, or z where beta z > threshold
#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_LEAKY 2
#define ACT_SIGMOID 3
#define ACT_TANH 4
#define ACT_GELU_TANH 5
#define ACT_GELU 6
#define ACT_ELU 7
#define ACT_SILU 8
#define ACT_SOFTPLUS 9

#define GELU_C 0.7978845608028654  // sqrt(2 / pi)
#define GELU_A 0.044715
#define SQRT1_2 0.7071067811865476          // 1 / sqrt(2)
#define INV_SQRT_2PI 0.3989422804014327     // 1 / sqrt(2 pi)
#define SOFTPLUS_THRESHOLD 20.0             // PyTorch's default

__device__ __forceinline__ float act_exp(float z) { return expf(z); }
__device__ __forceinline__ double act_exp(double z) { return exp(z); }
__device__ __forceinline__ float act_expm1(float z) { return expm1f(z); }
__device__ __forceinline__ double act_expm1(double z) { return expm1(z); }
__device__ __forceinline__ float act_log1p(float z) { return log1pf(z); }
__device__ __forceinline__ double act_log1p(double z) { return log1p(z); }
__device__ __forceinline__ float act_tanh(float z) { return tanhf(z); }
__device__ __forceinline__ double act_tanh(double z) { return tanh(z); }
__device__ __forceinline__ float act_erf(float z) { return erff(z); }
__device__ __forceinline__ double act_erf(double z) { return erf(z); }

// tanh u of the gelu approximation.
template <typename T>
__device__ __forceinline__ T gelu_tanh(T z)
{
    return act_tanh(T(GELU_C) * (z + T(GELU_A) * z * z * z));
}

// Phi(z) = (1 + erf(z / sqrt 2)) / 2, the standard normal CDF.
template <typename T>
__device__ __forceinline__ T normal_cdf(T z)
{
    return T(0.5) * (T(1) + act_erf(z * T(SQRT1_2)));
}

template <typename T>
__device__ __forceinline__ T sigmoid_of(T z)
{
    return T(1) / (T(1) + act_exp(-z));
}

// log(1 + e^u) = max(u, 0) + log(1 + e^-|u|): no overflow for large u.
template <typename T>
__device__ __forceinline__ T softplus_of(T u)
{
    return (u > T(0) ? u : T(0)) + act_log1p(act_exp(u > T(0) ? -u : u));
}

// f(z) for activation code `act`.
template <typename T>
__device__ __forceinline__ T act_value(T z, int act, T slope, T threshold = T(SOFTPLUS_THRESHOLD))
{
    const T zero = T(0), one = T(1), half = T(0.5);
    switch (act) {
    case ACT_RELU: return z > zero ? z : zero;
    case ACT_LEAKY: return z > zero ? z : slope * z;
    case ACT_SIGMOID: return sigmoid_of(z);
    case ACT_TANH: return act_tanh(z);
    case ACT_GELU_TANH: return half * z * (one + gelu_tanh(z));
    case ACT_GELU: return z * normal_cdf(z);
    case ACT_ELU: return z > zero ? z : slope * act_expm1(z);
    case ACT_SILU: return z * sigmoid_of(z);
    case ACT_SOFTPLUS: return slope * z > threshold ? z : softplus_of(slope * z) / slope;
    default: return z;
    }
}

// f'(z) for the codes above.
template <typename T>
__device__ __forceinline__ T act_slope(T z, int act, T slope, T threshold = T(SOFTPLUS_THRESHOLD))
{
    const T zero = T(0), one = T(1), half = T(0.5);
    switch (act) {
    case ACT_RELU: return z > zero ? one : zero;
    case ACT_LEAKY: return z > zero ? one : slope;
    case ACT_SIGMOID: {
        T s = sigmoid_of(z);
        return s * (one - s);
    }
    case ACT_TANH: {
        T t = act_tanh(z);
        return one - t * t;
    }
    case ACT_GELU_TANH: {
        // d/dz [z/2 (1 + tanh u)] = (1 + tanh u)/2 + z/2 (1 - tanh^2 u) du/dz
        T t = gelu_tanh(z);
        T du = T(GELU_C) * (one + T(3) * T(GELU_A) * z * z);
        return half * (one + t) + half * z * (one - t * t) * du;
    }
    case ACT_GELU: return normal_cdf(z) + z * T(INV_SQRT_2PI) * act_exp(-half * z * z);  // Phi + z phi
    case ACT_ELU: return z > zero ? one : slope * act_exp(z);
    case ACT_SILU: {
        T s = sigmoid_of(z);
        return s * (one + z * (one - s));
    }
    case ACT_SOFTPLUS: return slope * z > threshold ? one : sigmoid_of(slope * z);
    default: return one;
    }
}
