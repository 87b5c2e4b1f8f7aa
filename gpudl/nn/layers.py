"""The layers the lectures use, PyTorch's names and default initialisation."""
import math

from .. import checks
from ..cpu.geometry import conv_padding, pair, pool_args
from ..creation import ones, zeros
from . import functional as F, init
from .module import Module, Parameter


def _weight(shape, device, dtype):
    """PyTorch's default: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    w = Parameter(zeros(*shape, dtype=dtype, device=device))
    return init.kaiming_uniform_(w, a=math.sqrt(5))


def _bias(n, fan_in, device, dtype):
    b = Parameter(zeros(n, dtype=dtype, device=device))
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    return init.uniform_(b, -bound, bound)


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features)."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype="float32"):
        super().__init__()
        in_features = checks.integer("Linear", "in_features", in_features, 1)
        out_features = checks.integer("Linear", "out_features", out_features, 1)
        self.in_features, self.out_features = in_features, out_features
        self.weight = _weight((out_features, in_features), device, dtype)
        self.bias = _bias(out_features, in_features, device, dtype) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution over NCHW input; weight (out_channels, in_channels, kH, kW).

    padding: an int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same' (stride 1 only);
    dilation spaces the taps (F.conv2d)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, *, bias=True,
                 device=None, dtype="float32"):
        super().__init__()
        in_channels = checks.integer("Conv2d", "in_channels", in_channels, 1)
        out_channels = checks.integer("Conv2d", "out_channels", out_channels, 1)
        k = pair("Conv2d", "kernel_size", kernel_size, 1)
        conv_padding("Conv2d", padding, k, pair("Conv2d", "stride", stride, 1), pair("Conv2d", "dilation", dilation, 1))
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding, self.dilation = stride, padding, dilation
        fan_in = in_channels * k[0] * k[1]
        self.weight = _weight((out_channels, in_channels) + k, device, dtype)
        self.bias = _bias(out_channels, fan_in, device, dtype) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        dilation = f", dilation={self.dilation}" if pair("Conv2d", "dilation", self.dilation) != (1, 1) else ""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}{dilation}")


class MaxPool2d(Module):
    """Max over kernel_size windows (F.max_pool2d).  ceil_mode is keyword-only: PyTorch's positional
    argument before it is dilation, which gpudl's pooling does not take."""

    def __init__(self, kernel_size, stride=None, padding=0, *, ceil_mode=False):
        super().__init__()
        pool_args(type(self).__name__, kernel_size, stride, padding)
        self.kernel_size, self.stride, self.padding, self.ceil_mode = kernel_size, stride, padding, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel_size windows (F.avg_pool2d: PyTorch's arguments, divisor and defaults)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        pool_args("AvgPool2d", kernel_size, stride, padding)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"ceil_mode={self.ceil_mode}, count_include_pad={self.count_include_pad}")


class AdaptiveAvgPool2d(Module):
    """Average over windows that tile the input into output_size (an int or a pair; None keeps that size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): the bridge from convolutions to the dense head."""

    def __init__(self, start_axis=1, end_axis=-1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x):
        return x.flatten(self.start_axis, self.end_axis)


class Dropout(Module):
    """Zero each element with probability p in training (survivors scaled by 1/(1 - p)); p = 1 gives zeros."""

    def __init__(self, p=0.5):
        super().__init__()
        checks.probability("Dropout", "p", p)
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Module):
    """Batch normalisation per channel (F.batch_norm); running statistics r <- (1 - momentum) r + momentum s
    per training batch.

    `num_batches_tracked` (a 0-d int64 buffer, as in PyTorch's state_dict) counts the training
    batches, on the device.  momentum=None is PyTorch's cumulative average, momentum = 1 / n at the
    n-th batch.  A state_dict without it (a gpudl checkpoint from before it existed) loads with
    the count 0.
    """
    ndim = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, device=None, dtype="float32"):
        super().__init__()
        num_features = checks.integer(type(self).__name__, "num_features", num_features, 1)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(ones(num_features, dtype=dtype, device=device)) if affine else None
        self.bias = Parameter(zeros(num_features, dtype=dtype, device=device)) if affine else None
        self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
        self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
        self.register_buffer("num_batches_tracked", zeros((), dtype="int64", device=device))

    def forward(self, x):
        if x.ndim not in self.ndim or x.shape[1] != self.num_features:
            ranks = " or ".join(f"{d}-D" for d in self.ndim)
            raise ValueError(f"{type(self).__name__}: expected {ranks} input with {self.num_features} "
                             f"channels, got shape {x.shape}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                            self.momentum, self.eps, num_batches_tracked=self.num_batches_tracked)

    def _state_defaults(self):
        """An older checkpoint's missing count loads as 0 (see Module.load_state_dict)."""
        return {"num_batches_tracked": 0}

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """(N, C) or (N, C, L) input: statistics over N (and L) per channel."""
    ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    ndim = (4,)


class _Function(Module):
    """A layer that applies a stateless function."""
    fn = None

    def forward(self, x):
        return type(self).fn(x)


class ReLU(_Function):
    fn = staticmethod(F.relu)


class Sigmoid(_Function):
    fn = staticmethod(F.sigmoid)


class Tanh(_Function):
    fn = staticmethod(F.tanh)


class SiLU(_Function):
    """x sigmoid(x)."""
    fn = staticmethod(F.silu)


class GELU(Module):
    """x Phi(x) with the erf (approximate='none', PyTorch's default) or the tanh approximation ('tanh')."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """x if x > 0 else alpha (e^x - 1)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softplus(Module):
    """log(1 + e^{beta x}) / beta, x itself where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Step(Module):
    """The perceptron's threshold unit: 1 where x >= threshold (so 1 at x = 0 by default), else 0.

    Its gradient is 0 everywhere: it cannot be trained by backprop — the perceptron learning rule
    trains it, which is the point of the perceptron lecture."""

    def __init__(self, threshold=0.0):
        super().__init__()
        self.threshold = threshold

    def forward(self, x):
        return F.step(x, self.threshold)

    def extra_repr(self):
        return f"threshold={self.threshold}"


class Identity(_Function):
    fn = staticmethod(lambda x: x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class Softmax(Module):
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, self.axis)


class LogSoftmax(Softmax):
    """x - log sum exp(x) along `axis` (NumPy's name for PyTorch's dim), computed stably."""

    def forward(self, x):
        return F.log_softmax(x, self.axis)


class Sequential(Module):
    """Apply layers in order: Sequential(Conv2d(...), ReLU(), ...)."""

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Module")
            setattr(self, str(i), layer)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)
