"""The layers the lectures use, PyTorch's names and default initialisation."""
import math

from ..creation import ones, zeros, zeros_like
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
        self.in_features, self.out_features = in_features, out_features
        self.weight = _weight((out_features, in_features), device, dtype)
        self.bias = _bias(out_features, in_features, device, dtype) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution over NCHW input; weight (out_channels, in_channels, kH, kW)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 device=None, dtype="float32"):
        super().__init__()
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding = stride, padding
        fan_in = in_channels * k[0] * k[1]
        self.weight = _weight((out_channels, in_channels) + k, device, dtype)
        self.bias = _bias(out_channels, fan_in, device, dtype) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): the bridge from convolutions to the dense head."""

    def __init__(self, start_axis=1, end_axis=-1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x):
        return x.flatten(self.start_axis, self.end_axis)


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Module):
    """Running statistics r <- (1 - momentum) r + momentum s per training batch; momentum=None is
    PyTorch's cumulative average, momentum = 1 / n at the n-th batch (n in the `num_batches_tracked`
    buffer, which only momentum=None layers have)."""
    ndim = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, device=None, dtype="float32"):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(ones(num_features, dtype=dtype, device=device)) if affine else None
        self.bias = Parameter(zeros(num_features, dtype=dtype, device=device)) if affine else None
        self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
        self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
        if momentum is None:
            self.register_buffer("num_batches_tracked", zeros((), dtype="int64", device=device))

    def forward(self, x):
        if x.ndim != self.ndim or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.ndim}-D input with {self.num_features} "
                             f"channels, got shape {x.shape}")
        if self.momentum is None and self.training:
            return self._cumulative_forward(x)
        momentum = 0.0 if self.momentum is None else self.momentum  # evaluation does not use it
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, momentum, self.eps)

    def _cumulative_forward(self, x):
        """A training step with momentum=None: n <- n + 1, r <- r + (s - r) / n for both statistics.

        The kernel with momentum 1 writes the batch's statistics s into zeroed scratch arrays; the
        update runs on the device with the count kept there (no host sync, a capturable step)."""
        if "num_batches_tracked" not in self._buffers:
            raise RuntimeError(f"{type(self).__name__}: momentum=None needs the num_batches_tracked buffer; "
                               "build the layer with momentum=None")
        batch = zeros_like(self.running_mean), zeros_like(self.running_var)
        y = F.batch_norm(x, *batch, self.weight, self.bias, True, 1.0, self.eps)
        n, dev = self.num_batches_tracked.data, self.running_mean.device
        k = dev.kernels
        with dev.activate():
            k.add(n, 1, out=n)
            count = k.cast(n, self.running_mean.dtype)
            for running, s in ((self.running_mean.data, batch[0].data), (self.running_var.data, batch[1].data)):
                k.add(running, k.div(k.sub(s, running), count), out=running)
        return y

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    ndim = 2


class BatchNorm2d(_BatchNorm):
    ndim = 4


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


class GELU(_Function):
    fn = staticmethod(F.gelu)


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
