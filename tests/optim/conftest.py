"""A small float64 least-squares problem shared by the optimizer tests.

    loss(w, b) = Σ (x w + b − t)²,   w: (3, 2), b: (2,)
    ∂loss/∂w = 2 xᵀ r,  ∂loss/∂b = 2 Σ_rows r,   r = x w + b − t
"""
import numpy as np
import pytest

import gpudl as gd


class Problem:
    def __init__(self):
        rng = np.random.default_rng(42)
        self.x, self.t = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
        self.initial = [rng.standard_normal((3, 2)), rng.standard_normal(2)]

    def numpy_grads(self, w, b):
        """The gradient written out by hand (the reference never uses gpudl)."""
        r = self.x @ w + b - self.t
        return [2 * self.x.T @ r, 2 * r.sum(axis=0)]

    def params(self, device, dtype=np.float64):
        """Fresh gpudl parameters at the initial point."""
        return [gd.tensor(a.astype(dtype), device=device, requires_grad=True) for a in self.initial]

    def backward(self, params):
        """loss.backward() through gpudl's autograd; returns the loss."""
        w, b = params
        x = gd.tensor(self.x.astype(w.dtype), device=w.device)
        t = gd.tensor(self.t.astype(w.dtype), device=w.device)
        loss = ((x @ w + b - t) ** 2).sum()
        loss.backward()
        return loss

    def run(self, opt, params, steps):
        """`steps` full optimizer steps (zero_grad, backward, step)."""
        for _ in range(steps):
            opt.zero_grad()
            self.backward(params)
            opt.step()
        return [p.numpy() for p in params]


@pytest.fixture
def problem():
    return Problem()
