"""DistributedDataParallel: a Module wrapper that keeps every rank's copy of a model identical.

At construction rank 0's parameters and buffers are broadcast to every rank.  After each
backward the gradients are averaged over the ranks, weighted by each rank's batch size n_r
(the first dimension of the forward's first input):

    g = (sum_r n_r g_r) / (sum_r n_r)

which is the gradient of the global batch's mean loss also when the shards differ in size.
The parameters are packed, in order, into buckets of one device and dtype of at most
`bucket_cap_mb` MB; each bucket is one flat buffer [n_r g_1 | n_r g_2 | ... | n_r] and one
all-reduce, whose last element arrives as sum_r n_r.  So a step makes one collective call per
bucket (one for the MLP and LeNet-5), however many parameters there are.

Notes: the losses are assumed to be means over the batch (gpudl's default reduction); each
backward averages the accumulated .grad, so zero the gradients before each step (fit does);
BatchNorm statistics stay local to each rank (each rank normalises with its own shard's batch
statistics and keeps its own running averages; rank 0's are the ones checkpointed).
state_dict() and load_state_dict() are the wrapped module's (no 'module.' prefix), so a
checkpoint of a distributed run loads into the plain model.
"""
from .. import checks
from ..nn.module import Module
from ..tensor import Tensor, is_grad_enabled, queue_callback


def buckets(params, cap_bytes):
    """Consecutive parameters grouped by (device, dtype), each group at most cap_bytes (one parameter at least)."""
    out, size = [], 0
    for p in params:
        nbytes = p.size * p.dtype.itemsize
        last = out[-1] if out else None
        if last is None or (last[0].device, last[0].dtype) != (p.device, p.dtype) or size + nbytes > cap_bytes:
            out.append([p])
            size = nbytes
        else:
            last.append(p)
            size += nbytes
    return out


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training: rank 0's weights everywhere, gradients averaged after backward."""

    def __init__(self, module, bucket_cap_mb=25, group=None):
        super().__init__()
        from . import get_group
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a gpudl Module, got {type(module).__name__}")
        cap = checks.number("DistributedDataParallel", "bucket_cap_mb", bucket_cap_mb, low=0, low_open=True)
        self.module = module
        self.group = group or get_group()
        for t in list(module.parameters()) + [b for _, b in module.named_buffers()]:
            with t.device.activate():
                self.group.broadcast(t.data, 0)
        params = [p for p in module.parameters() if p.requires_grad]
        self.buckets = buckets(params, cap * 2 ** 20)
        self.samples = 0  # n_r of the last training forward
        self._pending = False  # an all-reduce is queued for the running backward
        for p in params:
            p.register_post_accumulate_grad_hook(self._on_gradient)

    def forward(self, *args, **kwargs):
        if is_grad_enabled() and self.training and args and isinstance(args[0], Tensor):
            self.samples = len(args[0])
        return self.module(*args, **kwargs)

    def _on_gradient(self, param):
        if not self._pending:
            self._pending = True
            queue_callback(self.average_gradients)

    def average_gradients(self):
        """All-reduce every bucket: each parameter's .grad becomes the samples-weighted mean over the ranks."""
        self._pending = False
        if not self.samples:
            raise RuntimeError("DistributedDataParallel: no training forward gave a batch size (pass the inputs "
                               "as the first positional argument, a Tensor of the batch)")
        for bucket in self.buckets:
            self._average(bucket)

    def _average(self, bucket):
        dev, dtype = bucket[0].device, bucket[0].dtype
        k = dev.kernels
        with dev.activate():
            parts = [(p.grad.data if p.grad is not None else k.full(p.shape, 0, dtype)).reshape(-1) for p in bucket]
            flat = k.concat(parts + [k.full((1,), 1, dtype)], 0)
            k.mul(flat, float(self.samples), out=flat)
            self.group.all_reduce(flat, "sum")
            mean = k.div(flat[:-1], flat[-1:])
            offset = 0
            for p in bucket:
                p.grad = Tensor._wrap(mean[offset:offset + p.size].reshape(p.shape), dev)
                offset += p.size

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, state, strict=True):
        self.module.load_state_dict(state, strict)
        return self

    def extra_repr(self):
        sizes = [sum(p.size for p in b) for b in self.buckets]
        return f"ranks={self.group.size}, backend={self.group.backend}, buckets={sizes}"
