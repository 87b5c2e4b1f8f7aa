"""Run the same model code under gpudl and under PyTorch (the oracle) and compare values and gradients.

gpudl's nn / functional use PyTorch's names and keyword arguments, so one `build(F, nn, make)` serves
both: F and nn are gpudl.nn.functional / gpudl.nn or torch.nn.functional / torch.nn, and
make(array, grad=False) makes a tensor of that framework (floats in the device's dtype).
"""
import numpy as np
import pytest

import gpudl as gd


def dtype_of(device):
    """float64 on cpu (tight comparisons, gradcheck), float32 on the kernel devices."""
    return np.float64 if device == "cpu" else np.float32


def tolerance(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=3e-6)


def _cast(array, dtype):
    array = np.asarray(array)
    return array if np.issubdtype(array.dtype, np.integer) else array.astype(dtype)


def _run(build, F, nn, make, as_array, weights):
    """(output, gradients of the grad=True tensors) after backward of sum(output * weights(shape))."""
    leaves = []

    def tracked(array, grad=False):
        t = make(array, grad)
        if grad:
            leaves.append(t)
        return t

    out = build(F, nn, tracked)
    if leaves:
        (out * make(weights(tuple(out.shape)), False)).sum().backward()
    return as_array(out), [None if t.grad is None else as_array(t.grad) for t in leaves]


def run_both(device, build, seed=0):
    """{'gpudl': (output, grads), 'torch': (output, grads)} of build under each framework."""
    torch = pytest.importorskip("torch")
    import gpudl.nn as gnn
    import gpudl.nn.functional as gF
    dtype = dtype_of(device)

    def weights(shape):
        return np.random.default_rng(seed).standard_normal(shape)

    def gpudl_make(array, grad):
        return gd.tensor(_cast(array, dtype), device=device, requires_grad=grad)

    def torch_make(array, grad):
        return torch.tensor(_cast(array, dtype), requires_grad=grad)

    return {"gpudl": _run(build, gF, gnn, gpudl_make, lambda t: t.numpy(), weights),
            "torch": _run(build, torch.nn.functional, torch.nn, torch_make, lambda t: t.detach().numpy(), weights)}


def assert_matches_torch(device, build, seed=0, tol=None):
    """gpudl's output and gradients equal PyTorch's (where PyTorch computes a gradient)."""
    results = run_both(device, build, seed)
    tol = tol or tolerance(dtype_of(device))
    (out, grads), (want, want_grads) = results["gpudl"], results["torch"]
    assert out.shape == want.shape, (out.shape, want.shape)
    np.testing.assert_allclose(out, want, **tol, err_msg="value")
    for i, (g, w) in enumerate(zip(grads, want_grads)):
        if w is not None:
            assert g is not None, f"gpudl gave no gradient for input {i}"
            np.testing.assert_allclose(g, w, **tol, err_msg=f"gradient of input {i}")
