"""gpudl: a small, readable deep-learning framework that runs fast on NVIDIA GPUs."""
from . import cuda
from .backend import Device, device, get_default_device, set_default_device
from .cpu.parallel import get_num_threads, set_num_threads
from .tensor import Tensor, Function, no_grad, is_grad_enabled
from .creation import (tensor, from_numpy, from_dlpack, zeros, ones, full, zeros_like, ones_like,
                       arange, eye, randn, rand, manual_seed)
from .ops import (exp, log, sqrt, abs, clip, where, maximum, minimum, concat, stack, pad, reshape,
                  transpose, permute, flatten, broadcast_to, matmul, cat, clamp, squeeze, unsqueeze, topk,
                  argmax, argmin)
from .gradcheck import gradcheck, GradcheckError
from .capture import capture, CaptureError
from .serialization import save, load
from . import data, nn, optim, profiler, train
from . import distributed
from . import kernels

float32, float64, int32, int64 = "float32", "float64", "int32", "int64"
bool_ = "bool"

__version__ = "0.1.0"
