"""`import gpudl.nn.functional as F`: the stateless neural-network functions."""
from ..ops.activation import (bias_act, relu, leaky_relu, sigmoid, tanh, gelu, elu, silu, softplus, step, softmax,
                              log_softmax)
from ..ops.conv import conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d
from ..ops.layers import linear, dropout, batch_norm
from ..ops.loss import (cross_entropy, nll_loss, mse_loss, l1_loss, huber_loss, smooth_l1_loss, binary_cross_entropy,
                        binary_cross_entropy_with_logits)

__all__ = ["bias_act", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "elu", "silu", "softplus", "step", "softmax",
           "log_softmax", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "linear", "dropout",
           "batch_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]
