"""Will my flight be delayed? Inputs: temperature (F) and wind speed (mph) at the airport.

Two questions, two losses, the same small network body:

    regression      how many minutes late?   y_hat = f(x),  J = mean((y_hat - y)^2)       (MSE)
    classification  delayed (>= 15 min)?     z = f(x),  p = sigmoid(z),
                                             J = -mean(y log p + (1 - y) log(1 - p))      (BCE, from logits)

Inputs are standardised with the training set's statistics, x' = (x - mean) / std, so that
temperature (tens of degrees) and wind (a few mph) start on the same scale for gradient descent.
"""
import numpy as np

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl.data import DataLoader, TensorDataset, synthetic
from gpudl.train import fit, predict

import _common

DAYS = {"cold windy day (20 F, 35 mph)": (20.0, 35.0), "mild calm day (65 F, 5 mph)": (65.0, 5.0)}


def network():
    """2 inputs -> 32 -> 32 -> 1 output (minutes, or the logit of 'delayed')."""
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))


def train(model, loss_fn, x, y, dev, args, epochs, metrics=()):
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, device=dev, seed=args.seed)
    optimizer = gd.optim.Adam(model.parameters(), lr=1e-2)
    history = fit(model, optimizer, loss_fn, loader, epochs=epochs, metrics=metrics, progress=False)
    print(f"  {loss_fn.__name__}: epoch 1 {history['loss'][0]:.3f} -> epoch {epochs} {history['loss'][-1]:.3f}")
    return model


def ask(model, x, dev):
    """The model's outputs for the rows of the NumPy array x, as a NumPy array."""
    return predict(model, (gd.tensor(x, device=dev),))


def main(argv=None):
    args = _common.parser(__doc__).parse_args(argv)
    dev = _common.setup(args)
    n, epochs = (1000, 15) if args.quick else (5000, 40)
    x, delayed, minutes = synthetic.flight_delays(n, seed=args.seed)
    split = int(0.8 * n)  # first 80 % to train, the rest to test
    mean, std = x[:split].mean(0), x[:split].std(0)
    z = (x - mean) / std  # standardised inputs
    minutes, delayed = minutes[:, None], delayed[:, None].astype(np.float32)  # (n, 1) targets

    print("regression: delay in minutes, MSE loss")
    regressor = train(network().to(dev), F.mse_loss, z[:split], minutes[:split], dev, args, epochs)
    rmse = float(np.sqrt(np.mean((ask(regressor, z[split:], dev) - minutes[split:]) ** 2)))
    baseline = float(np.sqrt(np.mean((minutes[:split].mean() - minutes[split:]) ** 2)))
    print(f"  test RMSE {rmse:.1f} min (always predicting the mean delay: {baseline:.1f} min)")

    print("classification: delayed (>= 15 min) yes/no, binary cross-entropy with logits")
    classifier = train(network().to(dev), F.binary_cross_entropy_with_logits, z[:split], delayed[:split], dev, args,
                       epochs, metrics=("accuracy",))
    logits = ask(classifier, z[split:], dev)
    accuracy = float(((logits > 0) == delayed[split:]).mean())
    majority = float(max(delayed[split:].mean(), 1 - delayed[split:].mean()))
    print(f"  test accuracy {accuracy:.1%} (always answering the more common class: {majority:.1%})")

    days = (np.array(list(DAYS.values()), np.float32) - mean) / std
    day_minutes = ask(regressor, days, dev).ravel()
    day_probability = 1 / (1 + np.exp(-ask(classifier, days, dev).ravel()))
    for name, m, p in zip(DAYS, day_minutes, day_probability):
        print(f"  {name}: expect ~{m:.0f} min late, P(delayed) = {p:.0%}")
    plot(args.out, classifier, dev, x, delayed.ravel(), mean, std)
    return {"rmse": rmse, "baseline_rmse": baseline, "accuracy": accuracy, "majority": majority,
            "cold_windy_minutes": float(day_minutes[0]), "cold_windy_probability": float(day_probability[0]),
            "mild_calm_probability": float(day_probability[1])}


def plot(out, classifier, dev, x, delayed, mean, std):
    """P(delayed) over temperature x wind, with the flights on top."""
    plt = _common.pyplot(out)
    if plt is None:
        return
    t, w = np.linspace(-20, 105, 126, dtype=np.float32), np.linspace(0, 60, 61, dtype=np.float32)
    grid = np.stack(np.meshgrid(t, w), -1).reshape(-1, 2)
    p = 1 / (1 + np.exp(-ask(classifier, (grid - mean) / std, dev).reshape(len(w), len(t))))
    fig, ax = plt.subplots(figsize=(6, 4))
    c = ax.contourf(t, w, p, levels=20, cmap="RdYlGn_r", alpha=0.8)
    ax.scatter(x[:, 0], x[:, 1], c=delayed, cmap="RdYlGn_r", s=6, edgecolors="none")
    fig.colorbar(c, label="P(delayed)")
    ax.set(title="Will my flight be delayed?", xlabel="temperature (F)", ylabel="wind (mph)")
    _common.save(plt, fig, out, "flight_delays.png")


if __name__ == "__main__":
    main()
