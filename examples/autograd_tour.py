"""A two-layer MLP learns XOR with nothing but tensors and autograd.

    h = tanh(x W1 + b1),   p = sigmoid(h W2 + b2),   J = mean((p - y)^2)
    W <- W - lr * dJ/dW     (plain gradient descent)

The lectures' point: one straight line cannot separate XOR, one hidden layer can.
"""
import numpy as np

import gpudl as gd


def tanh(z):
    e = (z * -2).exp()
    return (1 - e) / (1 + e)


def sigmoid(z):
    return 1 / (1 + (-z).exp())


def main(steps=2000, lr=1.0):
    gd.manual_seed(0)
    x = gd.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    y = gd.tensor([[0], [1], [1], [0]], dtype="float32")
    w1 = gd.randn(2, 8, requires_grad=True)
    b1 = gd.zeros(8, requires_grad=True)
    w2 = gd.randn(8, 1, requires_grad=True)
    b2 = gd.zeros(1, requires_grad=True)
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
