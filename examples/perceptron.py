"""The perceptron: one threshold unit learns AND and OR, but not XOR.

    y_hat = step(w . x + b)          step(z) = 1 if z >= 0 else 0
    w <- w + eta (y - y_hat) x       b <- b + eta (y - y_hat)      (the perceptron rule, one sample at a time)

The unit's decision boundary w . x + b = 0 is a straight line. AND and OR are linearly
separable, so the rule converges to 100 %. No line puts (0,1), (1,0) on one side and
(0,0), (1,1) on the other, so on XOR the rule cycles for ever and never gets all 4 right.
"""
import numpy as np

import gpudl as gd
import gpudl.nn.functional as F
from gpudl.data import synthetic

import _common

GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": synthetic.xor()[1]}


def train_perceptron(x, y, epochs, eta=0.1):
    """Perceptron rule over the samples in order, until an epoch makes no mistake; returns (w, b, epochs run)."""
    w, b = gd.zeros(2, device=x.device), gd.zeros(1, device=x.device)
    for epoch in range(1, epochs + 1):
        mistakes = 0
        for xi, yi in zip(x, y):
            error = yi - F.step(xi @ w + b)  # 0 when right, +-1 when wrong
            w, b = w + eta * error * xi, b + eta * error
            mistakes += int(error.item() != 0)
        if mistakes == 0:
            break
    return w, b, epoch


def accuracy(x, y, w, b):
    return float((F.step(x @ w + b).numpy() == y.numpy()).mean())


def main(argv=None):
    args = _common.parser(__doc__).parse_args(argv)
    dev = _common.setup(args)
    x = gd.tensor(synthetic.xor()[0], device=dev)  # the four corners of the unit square
    epochs = 20 if args.quick else 100
    results, lines = {}, {}
    for gate, targets in GATES.items():
        y = gd.tensor(np.asarray(targets, np.float32), device=dev)
        w, b, ran = train_perceptron(x, y, epochs)
        results[gate], lines[gate] = accuracy(x, y, w, b), (w.numpy(), b.item())
        print(f"{gate:3s}: accuracy {results[gate]:6.1%} after {ran:3d} epochs   w = {np.round(w.numpy(), 2)}, "
              f"b = {b.item():.2f}")
    if results["XOR"] < 1:
        print("XOR cannot reach 100 %: its classes are not linearly separable, and one threshold unit draws a line.")
    plot(args.out, x.numpy(), lines)
    return results


def plot(out, x, lines):
    """Each gate's points and the line w . x + b = 0 the perceptron ended with."""
    plt = _common.pyplot(out)
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(GATES), figsize=(10, 3.4))
    xs = np.linspace(-0.5, 1.5, 2)
    for ax, (gate, targets) in zip(axes, GATES.items()):
        (w1, w2), b = lines[gate]
        ax.scatter(x[:, 0], x[:, 1], c=np.asarray(targets), cmap="RdYlGn", s=120, edgecolors="k")
        if abs(w2) > 1e-9:
            ax.plot(xs, -(w1 * xs + b) / w2, "k--")
        elif abs(w1) > 1e-9:
            ax.axvline(-b / w1, color="k", linestyle="--")
        ax.set(title=gate, xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="x1", ylabel="x2")
    _common.save(plt, fig, out, "perceptron.png")


if __name__ == "__main__":
    main()
