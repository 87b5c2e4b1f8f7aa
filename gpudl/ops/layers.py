"""Linear maps, dropout and batch normalisation.

    linear      y = x W^T + b            W is (out_features, in_features)
    dropout     y = x * m / (1 - p),     m_i ~ Bernoulli(1 - p)   (inverted dropout)
    batch_norm  y = gamma (x - mu_B) / sqrt(sigma_B^2 + eps) + beta
"""
from .. import checks
from ..creation import rng_state
from ..tensor import Function


class Linear(Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save(x, w)
        return ctx.kernels.matmul(x, w.T, bias=b)  # one GEMM with the bias in its epilogue

    @staticmethod
    def backward(ctx, g):
        (x, w), k = ctx.saved, ctx.kernels  # dL/dx = g W,  dL/dW = g^T x (contiguous, like W),  dL/db = sum_n g
        need = ctx.needs_input_grad
        gx = k.matmul(g, w) if need[0] else None
        gw = k.matmul(g.T, x) if need[1] else None
        gb = k.sum(g, (0,)) if need[2] else None
        return gx, gw, gb


def linear(x, w, b=None):
    """y = x W^T + b over the last axis of x."""
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) "
                         f"but weight {w.shape} expects {w.shape[1]}")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias shape {b.shape} does not match out_features={w.shape[0]}")
    if x.ndim != 2:  # fold every leading axis into the batch
        return linear(x.reshape(-1, x.shape[-1]), w, b).reshape(x.shape[:-1] + (w.shape[0],))
    return Linear.apply(x, w, b)


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p):
        y, mask = ctx.kernels.dropout_forward(x, p, rng_state(ctx.device))
        ctx.save(mask)
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.mul(g, ctx.saved[0])  # dL/dx = m / (1 - p) * g


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the survivors by 1/(1 - p); identity in eval.
    p = 1 zeroes everything (x * 0, as in PyTorch; the gradient is 0 too).

    The mask comes from the counter-based generator (gd.manual_seed seeds it): the same seed gives
    the same masks on cpu, emu and cuda."""
    checks.probability("dropout", "p", p)
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=float(p))


class BatchNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps, num_batches_tracked):
        y, mean, invstd = ctx.kernels.batch_norm_forward(x, weight, bias, running_mean, running_var, training,
                                                         momentum, eps, num_batches_tracked)
        ctx.save(x, weight, mean, invstd, training)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, invstd, training = ctx.saved
        gx, gw, gb = ctx.kernels.batch_norm_backward(g, x, weight, mean, invstd, training)
        need = ctx.needs_input_grad
        return (gx if need[0] else None), (gw if need[1] else None), (gb if need[2] else None)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5, *,
               num_batches_tracked=None):
    """Normalise each channel (axis 1) of (N, C), (N, C, L) or (N, C, H, W) input, in one kernel each way.

    Training uses the batch's mean and biased variance (over N and L, or N, H and W), and updates
    the running statistics in place: r <- (1 - momentum) r + momentum * s, with the unbiased
    variance (PyTorch's rule).  Evaluation uses the running statistics.
    num_batches_tracked (gpudl's addition: the layer's 0-d int64 counter) gains 1 per training call,
    on the device; momentum=None then uses momentum = 1 / num_batches_tracked, the cumulative
    average of PyTorch's momentum=None.
    """
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm: expected (N, C), (N, C, L) or (N, C, H, W) input, got shape {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} shape {t.shape} does not match {channels} channels")
    if training and x.size // channels < 2:
        raise ValueError(f"batch_norm: training needs more than one value per channel, got input {x.shape}")
    if not training and running_mean is None:
        raise ValueError("batch_norm: evaluation needs running_mean and running_var")
    raw = [None if t is None else t.data for t in (running_mean, running_var, num_batches_tracked)]
    return BatchNorm.apply(x, weight, bias, running_mean=raw[0], running_var=raw[1], training=training,
                           momentum=momentum, eps=eps, num_batches_tracked=raw[2])
