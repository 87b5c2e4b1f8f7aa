"""Batch normalisation over axis 1 of (N, C), (N, C, L) or (N, C, H, W) input, in NumPy (the meaning
of kernels/batchnorm.cu).  Per channel c, over its n = N L or N H W values:

    training   mu_c = (1/n) sum x,   var_c = (1/n) sum (x - mu_c)^2   (biased; two passes)
               num_batches_tracked (a 0-d int64 counter, when given) <- num_batches_tracked + 1
               running stats, in place:  r_mu <- (1 - m) r_mu + m mu_c,
                                         r_var <- (1 - m) r_var + m var_c n / (n - 1)   (PyTorch's rule)
               with m = momentum, or m = 1 / num_batches_tracked for momentum=None (the cumulative
               average of PyTorch's momentum=None)
    eval       mu_c = r_mu_c,   var_c = r_var_c
    both       invstd_c = 1 / sqrt(var_c + eps),   xhat = (x - mu_c) invstd_c,   y = gamma_c xhat + beta_c

    backward   dbeta_c = sum g,   dgamma_c = sum g xhat
               training  dx = gamma_c invstd_c / n (n g - dbeta_c - xhat dgamma_c)
               eval      dx = g gamma_c invstd_c
"""
import numpy as np

from . import parallel
from .geometry import check_same_dtype

__all__ = ["batch_norm_forward", "batch_norm_backward"]


def channels_view(op, x):
    """(N, C, H, W) of x: (N, C) is (N, C, 1, 1), (N, C, L) is (N, C, L, 1); ValueError for other ranks."""
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"{op}: expected x of shape (N, C), (N, C, L) or (N, C, H, W), got {tuple(x.shape)}")
    return tuple(x.shape) + (1,) * (4 - x.ndim)


def check_counter(op, training, momentum, running_mean, num_batches_tracked):
    """ValueError unless the counter is a 0-d int64 array, present where momentum=None needs it."""
    if num_batches_tracked is not None and (num_batches_tracked.shape != () or
                                            num_batches_tracked.dtype != np.int64):
        raise ValueError(f"{op}: num_batches_tracked must be a 0-d int64 array, got shape "
                         f"{tuple(num_batches_tracked.shape)} and dtype {num_batches_tracked.dtype}")
    if momentum is None and training and running_mean is not None and num_batches_tracked is None:
        raise ValueError(f"{op}: momentum=None (a cumulative average) needs num_batches_tracked")


def check_forward(op, x, weight, bias, running_mean, running_var, training):
    """(N, C, H, W) after checking the per-channel arrays and that training has n > 1."""
    geometry = channels_view(op, x)
    n, channels, h, w = geometry
    named = dict(weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    check_channel_arrays(op, x.shape, channels, **named)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var or neither")
    if not training and running_mean is None:
        raise ValueError(f"{op}: eval mode normalises with running_mean and running_var; got None")
    if training and n * h * w < 2:
        raise ValueError(f"{op}: training needs more than one value per channel, got x of shape {tuple(x.shape)}")
    return geometry


def check_channel_arrays(op, x_shape, channels, **arrays):
    """ValueError unless every given array has shape (C,)."""
    for name, a in arrays.items():
        if a is not None and tuple(a.shape) != (channels,):
            raise ValueError(f"{op}: {name} of shape {tuple(a.shape)} does not match x of shape "
                             f"{tuple(x_shape)}; expected ({channels},)")


def check_backward(op, g, x, weight, mean, invstd):
    """(N, C, H, W) after checking g matches x and the per-channel arrays are (C,)."""
    geometry = channels_view(op, x)
    if tuple(g.shape) != tuple(x.shape):
        raise ValueError(f"{op}: g of shape {tuple(g.shape)} differs from x of shape {tuple(x.shape)}")
    check_channel_arrays(op, x.shape, geometry[1], weight=weight, mean=mean, invstd=invstd)
    return geometry


def _per_channel(a, ndim):
    """(C,) -> broadcastable against (N, C) or (N, C, H, W)."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def _channel_sum(a):
    """(C,) sums of a (N, C, ...) over every axis but 1, in an order that does not depend on how many
    channels a holds (a piece of them sums exactly as the whole): each (n, c) plane pairwise, then each
    channel's N plane sums pairwise."""
    n, c = a.shape[:2]
    planes = a.reshape(n, c, -1).sum(axis=2)
    return np.ascontiguousarray(planes.T).sum(axis=1)


def batch_norm_forward(device, x, weight, bias, running_mean, running_var, training, momentum, eps,
                       num_batches_tracked=None):
    """(y, mean, invstd), each channel normalised; when training, the counter and the running stats
    are updated in place.  Channels are independent: pieces of them run on the cpu threads."""
    op = "batch_norm_forward"
    check_same_dtype(op, x=x, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    n, channels, h, w = check_forward(op, x, weight, bias, running_mean, running_var, training)
    check_counter(op, training, momentum, running_mean, num_batches_tracked)
    t = x.dtype.type
    if training and num_batches_tracked is not None:
        np.add(num_batches_tracked, 1, out=num_batches_tracked)
    m = None  # the running stats' momentum
    if training and running_mean is not None:
        m = t(1) / t(num_batches_tracked) if momentum is None else t(momentum)
    count = n * h * w
    y = np.empty_like(x)
    mean, invstd = np.empty(channels, x.dtype), np.empty(channels, x.dtype)

    def piece(lo, hi):  # x - mu goes straight into y's memory, then is scaled there: one temporary (its square)
        xs, c = x[:, lo:hi], slice(lo, hi)
        if training:
            mean[c] = _channel_sum(xs) / t(count)
        else:
            mean[c] = running_mean[c]
        centred = np.subtract(xs, _per_channel(mean[c], x.ndim), out=y[:, lo:hi])
        if training:
            var = _channel_sum(np.square(centred)) / t(count)
            if running_mean is not None:
                running_mean[c] = (t(1) - m) * running_mean[c] + m * mean[c]
                running_var[c] = (t(1) - m) * running_var[c] + m * var * (t(count) / t(count - 1))
        else:
            var = running_var[c]
        invstd[c] = t(1) / np.sqrt(var + t(eps))
        centred *= _per_channel(invstd[c] if weight is None else invstd[c] * weight[c], x.ndim)
        if bias is not None:
            centred += _per_channel(bias[c], x.ndim)

    parallel.over(channels, 4 * x.size, piece)
    return y, mean, invstd


def batch_norm_backward(device, g, x, weight, mean, invstd, training):
    """(dx, dgamma, dbeta); weight None is gamma = 1 (dgamma and dbeta are returned anyway).  By pieces
    of the channels, as the forward."""
    op = "batch_norm_backward"
    check_same_dtype(op, g=g, x=x, weight=weight, mean=mean, invstd=invstd)
    n, channels, h, w = check_backward(op, g, x, weight, mean, invstd)
    count, t = n * h * w, x.dtype.type
    grad_x = np.empty_like(x)
    gweight, gbias = np.empty(channels, x.dtype), np.empty(channels, x.dtype)

    def piece(lo, hi):  # in place where the formula allows: two temporaries (xhat, g xhat)
        gs, xs, c = g[:, lo:hi], x[:, lo:hi], slice(lo, hi)
        xhat = np.subtract(xs, _per_channel(mean[c], x.ndim))
        xhat *= _per_channel(invstd[c], x.ndim)
        gbias[c] = _channel_sum(gs)
        gweight[c] = _channel_sum(gs * xhat)
        scale = invstd[c] if weight is None else weight[c] * invstd[c]
        if not training:
            np.multiply(gs, _per_channel(scale, x.ndim), out=grad_x[:, lo:hi])
            return
        inner = np.multiply(gs, t(count), out=grad_x[:, lo:hi])  # (n g - dbeta - xhat dgamma) gamma invstd / n
        inner -= _per_channel(gbias[c], x.ndim)
        xhat *= _per_channel(gweight[c], x.ndim)
        inner -= xhat
        inner *= _per_channel(scale / t(count), x.ndim)

    parallel.over(channels, 6 * x.size, piece)
    return grad_x, gweight, gbias
