"""Seven optimizers, one problem: the same network, the same initial weights, the same mini-batches.

With g_t the mini-batch gradient at step t and eta the learning rate (elementwise operations):

    SGD        w <- w - eta g
    Momentum   v <- mu v + g;               w <- w - eta v                   (mu = 0.9: a heavy ball)
    NAG        v <- mu v + g;               w <- w - eta (g + mu v)          (Nesterov: look ahead)
    Adagrad    G <- G + g^2;                w <- w - eta g / (sqrt(G) + eps) (steps shrink for ever)
    Adadelta   E[g2] <- rho E[g2] + (1 - rho) g^2;  d = sqrt(E[dw2] + eps) / sqrt(E[g2] + eps) g;
               E[dw2] <- rho E[dw2] + (1 - rho) d^2;  w <- w - eta d      (units fixed; eta = 1)
    RMSprop    E[g2] <- alpha E[g2] + (1 - alpha) g^2;  w <- w - eta g / (sqrt(E[g2]) + eps)
    Adam       m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  bias-correct m, v;
               w <- w - eta m_hat / (sqrt(v_hat) + eps)

The problem: three interleaved spirals in the plane, an MLP 2-64-64-3 with ReLU, cross-entropy,
mini-batches of 64. Each method gets a learning rate on its usual scale (printed in the table).
"""
import math

import numpy as np

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl import optim
from gpudl.data import DataLoader, TensorDataset, synthetic

import _common

# name -> (how to build the optimizer, its learning rate)
OPTIMIZERS = {
    "SGD": (lambda p, lr: optim.SGD(p, lr=lr), 0.1),
    "Momentum": (lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9), 0.1),
    "NAG": (lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True), 0.1),
    "Adagrad": (lambda p, lr: optim.Adagrad(p, lr=lr), 0.1),
    "Adadelta": (lambda p, lr: optim.Adadelta(p, lr=lr), 1.0),
    "RMSprop": (lambda p, lr: optim.RMSprop(p, lr=lr), 0.01),
    "Adam": (lambda p, lr: optim.Adam(p, lr=lr), 0.003),
}


def network():
    return nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))


def run(make_optimizer, lr, x, y, dev, args, epochs):
    """Train from the seeded initial weights; returns the loss of every step and the final accuracy."""
    gd.manual_seed(args.seed)  # the same initial weights for every optimizer
    model = network().to(dev)
    optimizer = make_optimizer(model.parameters(), lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, device=dev, seed=args.seed)
    losses = []
    for _ in range(epochs):
        for xb, yb in loader:  # the same batches, in the same order, for every optimizer
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    with gd.no_grad():
        accuracy = float((model(gd.tensor(x, device=dev)).numpy().argmax(1) == y).mean())
    return losses, accuracy


def main(argv=None):
    args = _common.parser(__doc__).parse_args(argv)
    dev = _common.setup(args)
    n, epochs = (300, 20) if args.quick else (600, 200)
    x, y = synthetic.spirals(n, classes=3, noise=0.05, seed=args.seed)
    curves, final, accuracy = {}, {}, {}
    print(f"{'optimizer':10s} {'lr':>6s} {'final loss':>11s} {'accuracy':>9s}")
    for name, (make, lr) in OPTIMIZERS.items():
        curves[name], accuracy[name] = run(make, lr, x, y, dev, args, epochs)
        last_epoch = curves[name][-(len(curves[name]) // epochs):]
        final[name] = float(np.mean(last_epoch))  # mean loss over the last epoch
        print(f"{name:10s} {lr:6g} {final[name]:11.4f} {accuracy[name]:9.1%}")
    best = min(final, key=lambda k: final[k] if math.isfinite(final[k]) else math.inf)
    print(f"lowest final loss: {best}")
    plot(args.out, curves)
    return {"final_loss": final, "accuracy": accuracy, "first_loss": {k: v[0] for k, v in curves.items()},
            "steps": len(curves["SGD"])}


def plot(out, curves):
    plt = _common.pyplot(out)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, losses in curves.items():
        smooth = np.convolve(losses, np.ones(10) / 10, mode="valid") if len(losses) > 10 else losses
        ax.plot(smooth, label=name)
    ax.set(xlabel="step (mini-batch of 64)", ylabel="training loss (moving average of 10)", yscale="log",
           title="Same network, same start, seven optimizers")
    ax.legend()
    _common.save(plt, fig, out, "optimizer_comparison.png")


if __name__ == "__main__":
    main()
