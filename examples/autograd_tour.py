"""A two-layer MLP learns XOR with nothing but tensors and autograd.

    h = tanh(x W1 + b1),   p = sigmoid(h W2 + b2),   J = mean((p - y)^2)
    W <- W - lr * dJ/dW     (plain gradient descent)

The lectures' point: one straight line cannot separate XOR, one hidden layer can.

    python examples/autograd_tour.py [--quick] [--device cpu|emu|cuda]

(--quick is accepted like every example's; the tour takes about a second either way.)
"""
import argparse

import numpy as np

import gpudl as gd


def tanh(z):
    e = (z * -2).exp()
    return (1 - e) / (1 + e)


def sigmoid(z):
    return 1 / (1 + (-z).exp())


def main(argv=None, steps=2000, lr=1.0):
    p = argparse.ArgumentParser(description="a two-layer MLP learns XOR with tensors and autograd")
    p.add_argument("--quick", action="store_true", help="accepted for uniformity: the tour is already quick")
    p.add_argument("--device", default="cpu", help="cpu | emu | cuda")
    args = p.parse_args(argv)
    gd.manual_seed(0)
    dev = gd.device(args.device)
    x = gd.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32", device=dev)
    y = gd.tensor([[0], [1], [1], [0]], dtype="float32", device=dev)
    w1 = gd.tensor(gd.randn(2, 8), device=dev, requires_grad=True)  # drawn on cpu: the same start everywhere
    b1 = gd.zeros(8, requires_grad=True, device=dev)
    w2 = gd.tensor(gd.randn(8, 1), device=dev, requires_grad=True)
    b2 = gd.zeros(1, requires_grad=True, device=dev)
    params = [w1, b1, w2, b2]
    for step in range(steps):
        p = sigmoid(tanh(x @ w1 + b1) @ w2 + b2)
        loss = ((p - y) ** 2).mean()
        for t in params:
            t.grad = None
        loss.backward()
        with gd.no_grad():
            for t in params:
                t.data -= lr * t.grad.data
        if step % 500 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    pred = (p.numpy() > 0.5).astype(int).ravel()
    print("XOR predictions:", pred.tolist(), "accuracy:", float(np.mean(pred == [0, 1, 1, 0])))


if __name__ == "__main__":
    main()
