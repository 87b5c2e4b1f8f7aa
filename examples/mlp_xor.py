"""A multi-layer perceptron solves XOR, which a single perceptron cannot.

    h = tanh(W1 x + b1)              (hidden layer: 4 units)
    p = sigmoid(W2 h + b2)           (output: probability that x1 XOR x2 = 1)
    J = -mean(y log p + (1 - y) log(1 - p))          (binary cross-entropy)
    W <- W - eta dJ/dW               (gradient descent; backprop computes dJ/dW by the chain rule)

The hidden layer bends the input space so that one line in h-space separates the classes.
Unlike the step function, tanh and sigmoid have useful gradients, so backprop can train them.
"""
import numpy as np

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl.data import synthetic

import _common


def main(argv=None):
    args = _common.parser(__doc__).parse_args(argv)
    dev = _common.setup(args)
    x_np, y_np = synthetic.xor()
    x = gd.tensor(x_np, device=dev)
    y = gd.tensor(y_np[:, None].astype(np.float32), device=dev)  # (4, 1) targets for BCE
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()).to(dev)
    optimizer = gd.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    steps = 300 if args.quick else 1000
    for step in range(steps + 1):
        p = model(x)  # forward pass
        loss = F.binary_cross_entropy(p, y)
        optimizer.zero_grad()
        loss.backward()  # backward pass: dJ/dW for every weight
        optimizer.step()  # W <- W - eta (momentum-smoothed) dJ/dW
        if step % (steps // 4) == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    with gd.no_grad():
        p = model(x).numpy().ravel()
    accuracy = float(((p > 0.5) == y_np).mean())
    print("inputs       ", x_np.astype(int).tolist())
    print("P(y = 1)     ", np.round(p.astype(float), 3).tolist())
    print(f"XOR accuracy: {accuracy:.0%}")
    plot(args.out, model, dev, x_np, y_np)
    return {"accuracy": accuracy, "loss": loss.item(), "probabilities": p.tolist()}


def plot(out, model, dev, x, y):
    """The learned P(y = 1) over the plane: the 0.5 contour is no longer a straight line."""
    plt = _common.pyplot(out)
    if plt is None:
        return
    g = np.linspace(-0.5, 1.5, 101, dtype=np.float32)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    with gd.no_grad():
        p = model(gd.tensor(grid, device=dev)).numpy().reshape(len(g), len(g))
    fig, ax = plt.subplots(figsize=(4.5, 4))
    c = ax.contourf(g, g, p, levels=20, cmap="RdYlGn", alpha=0.8)
    ax.contour(g, g, p, levels=[0.5], colors="k")
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdYlGn", s=120, edgecolors="k")
    fig.colorbar(c, label="P(y = 1)")
    ax.set(title="MLP on XOR", xlabel="x1", ylabel="x2")
    _common.save(plt, fig, out, "mlp_xor.png")


if __name__ == "__main__":
    main()
