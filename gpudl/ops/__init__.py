"""Differentiable ops, one family per file; Tensor methods and gd.* call these."""
from .arithmetic import add, sub, mul, div, pow, neg, matmul
from .reduction import sum, mean, var, max, min, argmax
from .elementwise import exp, log, sqrt, abs, clip, where, maximum, minimum, compare
from .shape import reshape, transpose, permute, flatten, broadcast_to, concat, stack, pad, getitem
