// The activation table shared by every kernel family that applies one (activation.cu's fused
// bias + activation, gemm.cu's epilogue): f(z) and f'(z) for each activation code, for float
// and double (templates; the float versions call expf / tanhf).  kernels/*.cu include it with
// #include "activation.cuh" (gpudl.gpu.loader.source_text pastes it in once).
//
// Activation codes (kept in sync with gpudl/cpu/geometry.py ACTIVATIONS):
//   0 identity  f(z) = z
//   1 relu      f(z) = max(z, 0)
//   2 leaky     f(z) = z if z > 0 else slope * z
//   3 sigmoid   f(z) = 1 / (1 + e^-z)
//   4 tanh      f(z) = tanh z
//   5 gelu      f(z) = z/2 (1 + tanh u),  u = sqrt(2/pi) (z + 0.044715 z^3)   (tanh approximation)
#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_LEAKY 2
#define ACT_SIGMOID 3
#define ACT_TANH 4
#define ACT_GELU 5

#define GELU_C 0.7978845608028654  // sqrt(2 / pi)
#define GELU_A 0.044715

__device__ __forceinline__ float act_exp(float z) { return expf(z); }
__device__ __forceinline__ double act_exp(double z) { return exp(z); }
__device__ __forceinline__ float act_tanh(float z) { return tanhf(z); }
__device__ __forceinline__ double act_tanh(double z) { return tanh(z); }

// tanh u of the gelu approximation.
template <typename T>
__device__ __forceinline__ T gelu_tanh(T z)
{
    return act_tanh(T(GELU_C) * (z + T(GELU_A) * z * z * z));
}

// f(z) for activation code `act`.
template <typename T>
__device__ __forceinline__ T act_value(T z, int act, T slope)
{
    const T zero = T(0), one = T(1), half = T(0.5);
    switch (act) {
    case ACT_RELU: return z > zero ? z : zero;
    case ACT_LEAKY: return z > zero ? z : slope * z;
    case ACT_SIGMOID: return one / (one + act_exp(-z));
    case ACT_TANH: return act_tanh(z);
    case ACT_GELU: return half * z * (one + gelu_tanh(z));
    default: return z;
    }
}

// f'(z) for the codes above.
template <typename T>
__device__ __forceinline__ T act_slope(T z, int act, T slope)
{
    const T zero = T(0), one = T(1), half = T(0.5);
    switch (act) {
    case ACT_RELU: return z > zero ? one : zero;
    case ACT_LEAKY: return z > zero ? one : slope;
    case ACT_SIGMOID: {
        T s = one / (one + act_exp(-z));
        return s * (one - s);
    }
    case ACT_TANH: {
        T t = act_tanh(z);
        return one - t * t;
    }
    case ACT_GELU: {
        // d/dz [z/2 (1 + tanh u)] = (1 + tanh u)/2 + z/2 (1 - tanh^2 u) du/dz
        T t = gelu_tanh(z);
        T du = T(GELU_C) * (one + T(3) * T(GELU_A) * z * z);
        return half * (one + t) + half * z * (one - t * t) * du;
    }
    default: return one;
    }
}
