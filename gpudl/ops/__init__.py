"""Differentiable ops, one family per file; Tensor methods and gd.* call these."""
from .arithmetic import add, sub, mul, div, pow, neg, matmul
from .reduction import sum, mean, var, std, max, min, argmax, argmin, any, all, topk
from .elementwise import exp, log, sqrt, abs, clip, clamp, where, maximum, minimum, compare
from .shape import (reshape, view, clone, unsqueeze, squeeze, t, transpose, permute, flatten, broadcast_to,
                    concat, cat, stack, pad, getitem, setitem)
from .activation import relu, sigmoid, tanh, softmax, log_softmax
