"""Loss modules: `nn.CrossEntropyLoss()(logits, labels)` and friends, PyTorch's names and defaults.

Each is a thin Module over its function in gpudl.nn.functional (the math is in gpudl/ops/loss.py);
the arguments are checked when the module is built.  Class weights (`weight`, `pos_weight`) are
buffers: they move with `.to(device)` and are saved in the state_dict.  PyTorch's deprecated
`size_average` and `reduce` arguments are left out.
"""
from .. import checks
from ..ops.loss import check_ignore_index, check_positive, check_reduction
from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def _weight(self, name, weight):
        """Keep an optional weight Tensor as a buffer (None stays a plain attribute)."""
        if weight is None:
            setattr(self, name, None)
        elif not isinstance(weight, Tensor):
            raise TypeError(f"{type(self).__name__}: {name} must be a Tensor or None, got {type(weight).__name__}")
        else:
            self.register_buffer(name, weight)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """F.cross_entropy: softmax + negative log-likelihood of logits (N, C) and labels (N,)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        check_ignore_index("CrossEntropyLoss", ignore_index)
        checks.probability("CrossEntropyLoss", "label_smoothing", label_smoothing)
        self._weight("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    """F.nll_loss: -w_y x_y of log-probabilities (N, C) and labels (N,)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        check_ignore_index("NLLLoss", ignore_index)
        self._weight("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """F.mse_loss: (x - y)^2."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """F.l1_loss: |x - y|."""

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """F.huber_loss: quadratic for |x - y| < delta, linear beyond."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        check_positive("HuberLoss", "delta", delta)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """F.smooth_l1_loss: huber_loss with delta = beta, divided by beta (beta = 0: L1)."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        check_positive("SmoothL1Loss", "beta", beta, allow_zero=True)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class BCELoss(_Loss):
    """F.binary_cross_entropy of probabilities in [0, 1]."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self._weight("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """F.binary_cross_entropy_with_logits: sigmoid + binary cross-entropy, stable."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self._weight("weight", weight)
        self._weight("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
