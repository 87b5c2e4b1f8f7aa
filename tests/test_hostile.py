"""A battery of bad inputs and faults, each run in its own forked process with a timeout (a crash or
a hang fails that case, not the test run). Each case must end one of two ways:

- the promised exception: ValueError for shapes and values, TypeError for types and dtypes,
  RuntimeError for devices and state (or OSError / SystemExit where the case says), with a
  message matching the case's pattern (the op's name and the offending value);
- no exception, and the case's own assertions hold (a valid input accepted, a result judged
  against NumPy's semantics, nothing lost).
"""
import multiprocessing
import os
import re
import textwrap
import traceback

import pytest

TIMEOUT_S = 120
_FORK = multiprocessing.get_context("fork") if hasattr(os, "fork") else None

# (case id, code, expected exception type or None, message pattern)
CASES = []


def case(name, code, error=None, match=""):
    CASES.append(pytest.param(textwrap.dedent(code), error, match, id=name))


PRELUDE = """
import os, json, numpy as np
import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl import optim, data, train
"""

# ---- creation ---------------------------------------------------------------------------------
case("tensor-None", "gd.tensor(None)", TypeError, r"tensor: .*None")
case("tensor-object-array", "gd.tensor(np.array([{}, 1], dtype=object))", TypeError, r"tensor: .*object")
case("tensor-ragged", "gd.tensor([[1, 2], [3]])", ValueError, r"tensor: nested lists must be rectangular")
case("tensor-string", "gd.tensor('abc')", TypeError, r"tensor: data must be a number.*got 'abc'")
case("tensor-complex", "gd.tensor([1 + 2j])", TypeError, r"tensor: .*complex")
case("tensor-list-of-tensors", """
    t = gd.tensor([gd.tensor(1.0), gd.tensor(2.0)])
    assert t.shape == (2,) and t.numpy().tolist() == [1.0, 2.0]
""")
case("tensor-bad-dtype", "gd.tensor([1, 2], dtype='float17')", TypeError, r"float17")
case("tensor-unknown-device", "gd.tensor([1.0], device='tpu')", ValueError, r"unknown device 'tpu'")
case("tensor-cuda-absent", """
    if gd.cuda.is_available():
        raise RuntimeError("cuda present: case not applicable")
    gd.tensor([1.0], device='cuda')
""", RuntimeError, r"CUDA is not available|cuda present")
case("zeros-negative", "gd.zeros(-1, 3)", ValueError, r"zeros: each dimension must be >= 0, got -1 in shape \(-1, 3\)")
case("zeros-float-dim", "gd.zeros(2.5)", TypeError, r"zeros: .*2.5")
case("ones-string-dim", "gd.ones('3')", TypeError, r"ones: .*'3'")
case("full-bad-fill", "gd.full((2,), 'x')", TypeError, r"full: .*'x'")
case("arange-step-zero", "gd.arange(0, 5, 0)", ValueError, r"arange: step .*0")
case("arange-nan", "gd.arange(0, float('nan'))", ValueError, r"arange: .*nan")
case("eye-negative", "gd.eye(-2)", ValueError, r"eye: .*-2")
case("randn-negative", "gd.randn(3, -1)", ValueError, r"randn: .*-1")
case("manual-seed-negative", "gd.manual_seed(-5)", ValueError, r"manual_seed: .*-5")
case("manual-seed-float", "gd.manual_seed(1.5)", TypeError, r"manual_seed: .*1.5")
case("from-numpy-list", "gd.from_numpy([1, 2])", TypeError, r"from_numpy: .*list")
case("stride-np-int64-accepted", """
    conv = nn.Conv2d(1, 2, 3, stride=np.int64(2))
    assert conv(gd.zeros(1, 1, 7, 7)).shape == (1, 2, 3, 3)
""")

# ---- ops ----------------------------------------------------------------------------------------
case("concat-empty", "gd.concat([])", ValueError, r"concat: .*empty|concat: .*at least one")
case("concat-axis-out-of-range", "gd.concat([gd.ones(2, 3), gd.ones(2, 3)], axis=2)", ValueError, r"concat: dim 2 is out of range")
case("concat-shape-mismatch", "gd.concat([gd.ones(2, 3), gd.ones(2, 4)], axis=0)", ValueError, r"concat: .*shape")
case("stack-axis-out-of-range", "gd.stack([gd.ones(2), gd.ones(2)], axis=3)", IndexError, r"stack: dim 3 is out of range")
case("stack-shape-mismatch", "gd.stack([gd.ones(2), gd.ones(3)])", ValueError, r"stack: .*shape")
case("flatten-axis-out-of-range", "gd.flatten(gd.ones(2, 3), 0, 5)", ValueError, r"flatten: dim 5 is out of range")
case("flatten-start-after-end", "gd.flatten(gd.ones(2, 3, 4), 2, 1)", ValueError, r"flatten: start_axis 2 comes after")
case("reshape-bad-size", "gd.ones(2, 3).reshape(4, 2)", ValueError, r"reshape: .*\(4, 2\)")
case("reshape-two-minus-one", "gd.ones(2, 3).reshape(-1, -1)", ValueError, r"reshape: .*-1")
case("sum-axis-out-of-range", "gd.ones(2, 3).sum(axis=2)", ValueError, r"sum: .*axis 2")
case("sum-duplicate-axes", "gd.ones(2, 3).sum(axis=(0, 0))", ValueError, r"sum: axis \(0, 0\) names an axis twice")
case("mean-axis-float", "gd.ones(2, 3).mean(axis=1.0)", TypeError, r"mean: axis must be an int, got 1.0")
case("max-axis-out-of-range", "gd.ones(2, 3).max(axis=-3)", ValueError, r"max: .*-3")
case("softmax-axis-out-of-range", "F.softmax(gd.ones(2, 3), axis=2)", ValueError, r"softmax: .*axis 2")
case("log-softmax-axis-out-of-range", "F.log_softmax(gd.ones(2, 3), axis=-3)", ValueError, r"log_softmax: .*-3")
case("transpose-dim-out-of-range", "gd.ones(2, 3).transpose(0, 2)", IndexError, r"transpose: .*2")
case("permute-not-a-permutation", "gd.ones(2, 3).permute(0, 0)", ValueError, r"permute: .*\(0, 0\)")
case("matmul-shape-mismatch", "gd.ones(2, 3) @ gd.ones(4, 5)", ValueError, r"matmul: .*\(2, 3\).*\(4, 5\)")
case("matmul-0d", "gd.tensor(2.0) @ gd.ones(3)", ValueError, r"matmul: .*at least 1-D.*\(\)")
case("add-broadcast-mismatch", "gd.ones(2, 3) + gd.ones(4)", ValueError, r"add: .*\(2, 3\).*\(4,\)")
case("add-string", "gd.ones(2) + 'a'", TypeError, r"add: .*got dtype <U")
case("mixed-device-add", "gd.ones(2) + gd.ones(2, device='emu')", RuntimeError, r"different devices|device")
case("where-bad-condition-dtype", "gd.where(gd.ones(2), gd.ones(2), gd.zeros(2))", TypeError, r"where: .*bool")
case("clip-lo-above-hi", """
    got = gd.tensor([0.0, 1.5, 3.0]).clip(2.0, 1.0).numpy()  # PyTorch and NumPy: min > max gives max
    assert got.tolist() == np.clip(np.array([0.0, 1.5, 3.0]), 2.0, 1.0).tolist() == [1.0, 1.0, 1.0]
""")
case("getitem-out-of-range", "gd.ones(3)[5]", IndexError, r"5")
case("getitem-float-index", "gd.ones(3)[1.5]", IndexError, r"getitem: only integers, slices")
case("log-negative-is-nan", """
    with np.errstate(invalid='ignore'):
        expected = np.log(np.array([-1.0, 0.0, 2.0]))
    got = gd.tensor([-1.0, 0.0, 2.0]).log().numpy()
    assert np.array_equal(np.isnan(got), np.isnan(expected)) and np.isinf(got[1]) and got[1] < 0
""")
case("sqrt-negative-is-nan", """
    got = gd.tensor([-4.0, 4.0]).sqrt().numpy()
    assert np.isnan(got[0]) and got[1] == 2.0
""")
case("pow-negative-fraction-nan", """
    got = (gd.tensor([-8.0]) ** 0.5).numpy()
    assert np.isnan(got[0])
""")
case("bool-ambiguous", "bool(gd.tensor([1.0, 2.0]) > 0)", RuntimeError, r"ambiguous")
case("float-of-vector", "float(gd.ones(3))", ValueError, r"one element|single element|size 3|shape \(3,\)")

# ---- autograd --------------------------------------------------------------------------------
case("backward-no-grad", "gd.ones(3).sum().backward()", RuntimeError, r"does not require grad")
case("backward-non-scalar", "(gd.ones(3, requires_grad=True) * 2).backward()", RuntimeError, r"backward: .*grad")
case("backward-wrong-grad-shape", "(gd.ones(3, requires_grad=True) * 2).backward(gd.ones(2))", ValueError,
     r"backward: grad shape \(2,\)")
case("backward-twice", """
    x = gd.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
""", RuntimeError, r"backward through the graph a second time")
case("gradient-shape-mismatch-from-function", """
    class Bad(gd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2
        @staticmethod
        def backward(ctx, g):
            return np.ones(1)
    Bad.apply(gd.ones(3, requires_grad=True)).sum().backward()
""", RuntimeError, r"Bad.backward returned .*shape \(1,\)")
case("function-without-tensors", """
    class F2(gd.Function):
        @staticmethod
        def forward(ctx, x):
            return x
    F2.apply(3.0)
""", TypeError, r"F2.apply: needs at least one Tensor")
case("grad-assigned-wrong-shape-then-step", """
    p = nn.Parameter(gd.ones(3))
    opt = optim.SGD([p], lr=0.1)
    p.grad = gd.ones(1)
    opt.step()
""", ValueError, r"grad.*\(1,\).*\(3,\)|\(3,\).*\(1,\)")
case("gradcheck-wrong-backward", """
    class Wrong(gd.Function):
        @staticmethod
        def forward(ctx, x):
            return ctx.kernels.mul(x, x)
        @staticmethod
        def backward(ctx, g):
            return g
    gd.gradcheck(Wrong.apply, [gd.tensor([1.0, 2.0], requires_grad=True)])
""", "GradcheckError", r"input 0")

# ---- nn ----------------------------------------------------------------------------------------
case("conv-kernel-zero", "nn.Conv2d(3, 2, 0)", ValueError, r"Conv2d: .*kernel_size .*0")
case("conv-float-stride", "nn.Conv2d(3, 2, 3, stride=1.5)", TypeError, r"Conv2d: .*stride .*1.5")
case("conv-negative-padding", "nn.Conv2d(3, 2, 3, padding=-1)", ValueError, r"Conv2d: .*padding .*-1")
case("conv-channel-mismatch", "nn.Conv2d(3, 2, 3)(gd.zeros(1, 4, 8, 8))", ValueError, r"conv2d: .*3.*4|channels")
case("conv-input-too-small", "nn.Conv2d(1, 2, 5)(gd.zeros(1, 1, 3, 3))", ValueError, r"conv2d: .*3")
case("conv-3d-input", "nn.Conv2d(1, 2, 3)(gd.zeros(1, 8, 8))", ValueError, r"conv2d: .*\(N, C, H, W\)|4-d|shape")
case("linear-negative", "nn.Linear(-1, 3)", ValueError, r"Linear: .*-1")
case("linear-float-features", "nn.Linear(2.5, 3)", TypeError, r"Linear: .*2.5")
case("linear-input-mismatch", "nn.Linear(4, 3)(gd.ones(2, 5))", ValueError, r"\(2, 5\)|5.*4|4.*5")
case("maxpool-zero-kernel", "nn.MaxPool2d(0)", ValueError, r"MaxPool2d: .*0|kernel_size")
case("dropout-p-above-one", "nn.Dropout(1.5)", ValueError, r"Dropout: .*1.5")
case("dropout-p-negative", "nn.Dropout(-0.1)", ValueError, r"Dropout: .*-0.1")
case("batchnorm-wrong-channels", "nn.BatchNorm2d(3)(gd.zeros(2, 4, 5, 5))", ValueError, r"BatchNorm2d|batch_norm|3.*4")
case("batchnorm-zero-features", "nn.BatchNorm1d(0)", ValueError, r"BatchNorm1d: .*0")
case("load-state-dict-missing-key", """
    m = nn.Linear(2, 3)
    m.load_state_dict({'weight': np.zeros((3, 2), np.float32)})
""", ValueError, r"missing.*bias|bias")
case("load-state-dict-wrong-shape", """
    m = nn.Linear(2, 3)
    m.load_state_dict({'weight': np.zeros((2, 3), np.float32), 'bias': np.zeros(3, np.float32)})
""", ValueError, r"weight.*\(2, 3\).*\(3, 2\)|weight.*\(3, 2\).*\(2, 3\)")
case("cross-entropy-label-out-of-range", "F.cross_entropy(gd.ones(2, 3), gd.tensor([0, 3]))", ValueError,
     r"cross_entropy: .*3")
case("cross-entropy-float-labels", "F.cross_entropy(gd.ones(2, 3), gd.tensor([0.0, 1.0]))", TypeError,
     r"cross_entropy: .*float")
case("bce-target-out-of-range", "F.binary_cross_entropy(gd.tensor([0.5, 0.5]), gd.tensor([0.0, 2.0]))", ValueError,
     r"binary_cross_entropy: .*target")
case("bce-input-out-of-range", "F.binary_cross_entropy(gd.tensor([1.5]), gd.tensor([1.0]))", ValueError,
     r"binary_cross_entropy: .*input")
case("mse-shape-mismatch", "F.mse_loss(gd.ones(3), gd.ones(4))", ValueError, r"mse_loss: .*\(3,\).*\(4,\)")
case("sequential-bad-layer", "nn.Sequential(nn.Linear(2, 2), 'relu')", TypeError, r"Sequential: .*str|'relu'")
case("reduction-unknown", "F.mse_loss(gd.ones(3), gd.ones(3), reduction='avg')", ValueError, r"reduction .*'avg'")

# ---- optimizers --------------------------------------------------------------------------------
case("adam-betas-float", "optim.Adam(nn.Linear(2, 2).parameters(), betas=0.9)", TypeError, r"Adam: betas must be a pair .*0.9")
case("adam-betas-out-of-range", "optim.Adam(nn.Linear(2, 2).parameters(), betas=(1.0, 0.9))", ValueError,
     r"Adam: .*beta")
case("sgd-lr-string", "optim.SGD(nn.Linear(2, 2).parameters(), lr='0.1')", TypeError, r"SGD: lr must be a number, got '0.1'")
case("sgd-lr-negative", "optim.SGD(nn.Linear(2, 2).parameters(), lr=-1)", ValueError, r"SGD: .*lr .*-1")
case("sgd-nesterov-without-momentum", "optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, nesterov=True)", ValueError,
     r"nesterov")
case("optimizer-empty-params", "optim.Adam([])", ValueError, r"empty|no parameters")
case("optimizer-not-params", "optim.Adam([1, 2])", TypeError, r"Adam: .*int|Parameter|Tensor")
case("weight-decay-negative", "optim.AdamW(nn.Linear(2, 2).parameters(), weight_decay=-0.1)", ValueError,
     r"weight_decay .*-0.1")
case("rmsprop-alpha-out-of-range", "optim.RMSprop(nn.Linear(2, 2).parameters(), alpha=1.5)", ValueError,
     r"alpha .*1.5")
case("scheduler-step-size-zero", """
    opt = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    optim.lr_scheduler.StepLR(opt, step_size=0)
""", ValueError, r"StepLR: .*step_size .*0")
case("optimizer-load-state-mismatch", """
    m = nn.Linear(2, 2)
    a = optim.Adam(m.parameters())
    m(gd.ones(1, 2)).sum().backward()
    a.step()  # now a holds (2, 2) moments
    b = optim.Adam(nn.Linear(3, 3).parameters())
    b.load_state_dict(a.state_dict())
""", ValueError, r"load_state_dict")

# ---- data ----------------------------------------------------------------------------------------
case("loader-batch-size-zero", "data.DataLoader(data.TensorDataset(np.ones(3)), batch_size=0)", ValueError,
     r"batch_size .*0")
case("loader-batch-size-float", "data.DataLoader(data.TensorDataset(np.ones(3)), batch_size=2.0)", ValueError,
     r"batch_size .*2.0")
case("tensordataset-length-mismatch", "data.TensorDataset(np.ones(3), np.ones(4))", ValueError,
     r"same first dimension")
case("tensordataset-empty", "data.TensorDataset()", ValueError, r"at least one array")
case("random-split-bad-lengths", "data.random_split(data.TensorDataset(np.ones(10)), [3, 3])", ValueError,
     r"random_split: .*sum to .*10")
case("random-split-bad-fractions", "data.random_split(data.TensorDataset(np.ones(10)), [0.5, 0.6])", ValueError,
     r"random_split: .*fractions")
case("loader-state-missing-keys", """
    loader = data.DataLoader(data.TensorDataset(np.ones(10)), batch_size=3)
    loader.load_state_dict({'seed': 1})
""", ValueError, r"missing keys")
case("loader-state-out-of-range", """
    loader = data.DataLoader(data.TensorDataset(np.ones(10)), batch_size=3)
    loader.load_state_dict({'seed': 1, 'epoch': 0, 'batch': 9})
""", ValueError, r"out of range")
case("normalize-zero-std", "data.transforms.Normalize(0.5, 0.0)", ValueError, r"std must be > 0")
case("normalize-int-batch", "data.transforms.Normalize(0.5, 0.2)(np.ones((2, 1, 3, 3), np.uint8))", TypeError,
     r"floating-point batch")
case("crop-too-large", "data.transforms.RandomCrop(9)(np.ones((2, 1, 4, 4), np.uint8))", ValueError,
     r"larger than the padded image")
case("flip-p-out-of-range", "data.transforms.RandomHorizontalFlip(p=1.5)", ValueError, r"\[0, 1\]")
case("resident-on-cpu", "data.DataLoader(data.TensorDataset(np.ones(3)), device='cpu', resident=True)", ValueError,
     r"cuda or emu device, not cpu")

# ---- files ---------------------------------------------------------------------------------------
case("load-empty-file", """
    open('e.npz', 'wb').close()
    gd.load('e.npz')
""", ValueError, r"e.npz is not a gpudl checkpoint.*empty")
case("load-random-bytes", """
    open('r.npz', 'wb').write(os.urandom(1000))
    gd.load('r.npz')
""", ValueError, r"r.npz is not a gpudl checkpoint")
case("load-truncated", """
    gd.save({'w': np.arange(1000.0)}, 'ok.npz')
    open('t.npz', 'wb').write(open('ok.npz', 'rb').read()[:500])
    gd.load('t.npz')
""", ValueError, r"t.npz is not a gpudl checkpoint.*truncated")
case("load-missing", "gd.load('nope.npz')", FileNotFoundError, r"nope.npz")
case("load-pickled", """
    np.savez('p.npz', o=np.array([object()], dtype=object))
    gd.load('p.npz')
""", ValueError, r"Python objects")
case("save-not-a-dict", "gd.save([1, 2], 'x.npz')", TypeError, r"save: expected a dict")
case("save-object-value", "gd.save({'a': {1, 2}}, 'x.npz')", TypeError, r"save: .*'a'")
case("save-into-a-file-path", """
    open('f', 'w').write('x')
    gd.save({'a': 1}, 'f/x.npz')
""", OSError, r"save: cannot write f/x.npz")
case("save-keeps-old-on-error", """
    gd.save({'w': np.ones(2)}, 'c.npz')
    try:
        gd.save({'w': {1}}, 'c.npz')
    except TypeError:
        pass
    assert gd.load('c.npz')['w'].tolist() == [1.0, 1.0]
    assert sorted(os.listdir('.')) == ['c.npz']
""")

# ---- training --------------------------------------------------------------------------------------
FIT = """
x = np.random.default_rng(0).standard_normal((40, 2)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64)
loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8)
model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
opt = optim.SGD(model.parameters(), lr=0.1)
"""
case("fit-unknown-metric", FIT + "train.fit(model, opt, F.cross_entropy, loader, metrics=('f1',), progress=False)",
     ValueError, r"unknown metric 'f1'")
case("fit-bad-capture", FIT + "train.fit(model, opt, F.cross_entropy, loader, capture='yes', progress=False)",
     ValueError, r"capture must be True, False or 'auto'")
case("fit-capture-on-cpu", FIT + "train.fit(model, opt, F.cross_entropy, loader, capture=True, progress=False)",
     RuntimeError, r"capture needs a kernel device")
case("fit-nan-loss", FIT + "train.fit(model, opt, lambda o, t: F.cross_entropy(o, t) * float('nan'), loader, "
     "progress=False)", "NonFiniteLossError", r"epoch 1, step 1")
case("fit-plateau-without-val", FIT + "train.fit(model, opt, F.cross_entropy, loader, progress=False, "
     "scheduler=optim.lr_scheduler.ReduceLROnPlateau(opt))", ValueError, r"ReduceLROnPlateau")
case("early-stopping-unknown-monitor", FIT + "train.fit(model, opt, F.cross_entropy, loader, progress=False, "
     "callbacks=[train.EarlyStopping(monitor='val_f1')])", ValueError, r"'val_f1' not in")
case("resume-missing-file", FIT + "train.resume('none.npz', model, opt)", FileNotFoundError, r"none.npz")
case("capture-nested-host-sync", """
    m = nn.Linear(2, 2).to('emu')
    step = gd.capture(lambda x: (m(x).sum().item(), m(x))[1])
    x = gd.ones(3, 2, device='emu')
    step(x); step(x)
""", "CaptureError", r"item.*inside gd.capture")
case("capture-shape-change", """
    m = nn.Linear(2, 2).to('emu')
    step = gd.capture(lambda x: m(x))
    step(gd.ones(3, 2, device='emu')); step(gd.ones(3, 2, device='emu'))
    step(gd.ones(4, 2, device='emu'))
""", "CaptureError", r"\(4, 2\).*\(3, 2\)")

# ---- emu kernels -------------------------------------------------------------------------------------
case("emu-out-of-bounds-write", """
    from gpudl import emu
    from gpudl.emu import guard
    mod = emu.load_module('extern "C" __global__ void w(float* o) { o[threadIdx.x] = 1.0f; }', name='w.cu')
    out = guard.empty((4,), np.float32)
    mod.get_function('w')((1,), (8,), (out,))
""", "EmuError", r"kernel 'w' wrote out of bounds of argument 'o'")
case("emu-python-int-argument", """
    from gpudl import emu
    mod = emu.load_module('extern "C" __global__ void k(float* o, int n) { }', name='k.cu')
    mod.get_function('k')((1,), (1,), (np.zeros(2, np.float32), 3))
""", TypeError, r"parameter 'n' \(int\) needs np.int32")
case("emu-wrong-dtype-pointer", """
    from gpudl import emu
    mod = emu.load_module('extern "C" __global__ void k(float* o) { }', name='k2.cu')
    mod.get_function('k')((1,), (1,), (np.zeros(2, np.float64),))
""", TypeError, r"needs a float32 array")
case("emu-block-too-large", """
    from gpudl import emu
    mod = emu.load_module('extern "C" __global__ void k() { }', name='k3.cu')
    mod.get_function('k')((1,), (2048,), ())
""", ValueError, r"block \(2048, 1, 1\) is out of range")
case("emu-divergent-barrier", """
    from gpudl import emu
    src = 'extern "C" __global__ void k() { if (threadIdx.x == 0) __syncthreads(); }'
    emu.load_module(src, name='k4.cu').get_function('k')((1,), (2,), ())
""", "EmuError", r"barrier|__syncthreads|diverg")
case("emu-size-beyond-int32", """
    from gpudl.gpu import loader
    dev = gd.device('emu')
    out = dev.empty((1,), np.int64)
    loader.launch(dev, 'data', 'permutation', (1,), (1,),
                  (out, np.int64(1), np.int64(0)) + loader.ints(2 ** 31, 1) + (np.uint32(0),) * 4, 'case')
""", ValueError, r"permutation: a size or index of 2147483648")
case("emu-shared-memory-too-large", """
    from gpudl import emu
    mod = emu.load_module('extern "C" __global__ void k() { }', name='k5.cu')
    mod.get_function('k')((1,), (1,), (), shared_mem=1 << 20)
""", ValueError, r"shared_mem")

# ---- CLI -------------------------------------------------------------------------------------------------
CLI = "from gpudl.cli import main\nmain(['train', '--out', 'run', {}])"
case("cli-epochs-negative", CLI.format("'--epochs', '-1'"), SystemExit, r"2")
case("cli-lr-negative", CLI.format("'--lr', '-1'"), SystemExit, r"2")
case("cli-batch-size-zero", CLI.format("'--batch-size', '0'"), SystemExit, r"2")
case("cli-device-tpu", CLI.format("'--device', 'tpu'"), SystemExit, r"--device tpu")
case("cli-out-unwritable", CLI.format("'--out', '/proc/gpudl-no'"), SystemExit, r"--out /proc/gpudl-no")
case("cli-resume-missing", "from gpudl.cli import main\nmain(['train', '--resume', 'nowhere'])", SystemExit,
     r"no run.json")
case("cli-eval-missing", "from gpudl.cli import main\nmain(['eval', 'nowhere/ck.npz'])", SystemExit, r"no run.json")
case("cli-unknown-command", "from gpudl.cli import main\nmain(['fly'])", SystemExit, r"2")


def _child(code, folder, conn):
    """Run `code` in `folder`; send back ('ok',) or ('raised', type name, message, traceback)."""
    os.chdir(folder)
    try:
        exec(compile(PRELUDE + code, "<case>", "exec"), {})
        conn.send(("ok",))
    except BaseException as e:  # the verdict is the parent's
        message = str(e.code) if isinstance(e, SystemExit) else str(e)
        conn.send(("raised", type(e).__name__, [c.__name__ for c in type(e).__mro__], message,
                   traceback.format_exc()))
    finally:
        conn.close()


def _run(code, folder):
    parent, child = _FORK.Pipe(duplex=False)
    proc = _FORK.Process(target=_child, args=(code, str(folder), child))
    proc.start()
    child.close()
    if not parent.poll(TIMEOUT_S):
        proc.kill()
        proc.join()
        pytest.fail(f"the case hung for {TIMEOUT_S} s")
    result = parent.recv()
    proc.join(10)
    return result, proc.exitcode


def test_the_battery_is_large():
    assert len(CASES) >= 100, len(CASES)


@pytest.mark.skipif(_FORK is None, reason="needs fork() to run each case in its own process")
@pytest.mark.parametrize("code, error, match", CASES)
def test_hostile_case(code, error, match, tmp_path, capfd):
    result, exitcode = _run(code, tmp_path)
    assert exitcode == 0, f"the case's process died (exit code {exitcode}, signal {-exitcode if exitcode < 0 else None})"
    if error is None:
        assert result == ("ok",), f"expected success, got {result[1]}: {result[3]}\n{result[4]}"
        return
    name = error if isinstance(error, str) else error.__name__
    assert result[0] == "raised", f"expected {name}, but the case ran without an error (a silent wrong answer?)"
    _, got, mro, message, tb = result
    assert name in mro, f"expected {name}, got {got}: {message}\n{tb}"
    assert re.search(match, message), f"message does not match {match!r}: {message}"
