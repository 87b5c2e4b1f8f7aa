"""What does a CNN's first layer learn? Look at its filters and at what they see in one image.

First layer: 8 filters w_k of 5x5, one per output channel k. Its feature map k of image x is

    a_k[i, j] = ReLU( sum_{u,v} w_k[u, v] x[i + u - 2, j + v - 2] + b_k )     (stride 1, padding 2)

so a_k is bright where the image looks like w_k: training turns the filters from random noise
towards edge and blob detectors (light-to-dark in some direction).
"""
import numpy as np

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl.data import datasets
from gpudl.train import evaluate, fit

import _common


def network():
    return nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def main(argv=None):
    args = _common.parser(__doc__, data=True).parse_args(argv)
    dev = _common.setup(args)
    n_train, n_test, epochs = (512, 256, 1) if args.quick else (None, None, 2)
    train, _, test = _common.loaders("fashion-mnist", dev, args, n_train, 0, n_test)
    model = network().to(dev)
    conv1 = model[0]
    initial = conv1.weight.numpy()
    fit(model, gd.optim.Adam(model.parameters(), lr=2e-3), F.cross_entropy, train, epochs=epochs,
        progress=not args.quick)
    accuracy = evaluate(model, test)["accuracy"]
    print(f"test accuracy after {epochs} epoch(s): {accuracy:.1%}")

    filters = conv1.weight.numpy()  # (8, 1, 5, 5)
    x, label = next(iter(test))  # the first test batch; we look at its first image
    with gd.no_grad():
        maps = model[1](conv1(x[:1])).numpy()[0]  # (8, 28, 28): ReLU(conv1(x))
    image = x.numpy()[0, 0]
    name = datasets.FashionMNIST.classes[int(label.numpy()[0])]
    change = np.abs(filters - initial).mean() / np.abs(initial).mean()
    print(f"first-layer filters {filters.shape}: mean |change| during training = {change:.0%} of their initial size")
    print(f"feature maps of one test image ({name}): {maps.shape}, "
          f"active (> 0) pixels per map: {np.round((maps > 0).mean((1, 2)), 2).tolist()}")
    pngs = plot(args.out, initial, filters, image, name, maps)
    return {"test_accuracy": accuracy, "initial_filters": initial, "filters": filters, "bias": conv1.bias.numpy(),
            "feature_maps": maps, "image": image, "pngs": pngs}


def plot(out, initial, filters, image, name, maps):
    """filters.png (before / after training) and feature_maps.png (the image and its 8 maps)."""
    plt = _common.pyplot(out)
    if plt is None:
        return []
    k = len(filters)
    fig, axes = plt.subplots(2, k, figsize=(1.3 * k, 3))
    for row, (title, w) in enumerate((("initial", initial), ("trained", filters))):
        for j in range(k):
            axes[row, j].imshow(w[j, 0], cmap="gray")
            axes[row, j].set_title(f"{title} {j}", fontsize=8)
            axes[row, j].axis("off")
    paths = [_common.save(plt, fig, out, "filters.png")]
    fig, axes = plt.subplots(1, k + 1, figsize=(1.4 * (k + 1), 1.9))
    for j, (ax, a) in enumerate(zip(axes, [image, *maps])):
        ax.imshow(a, cmap="gray" if j == 0 else "viridis")
        ax.set_title(name if j == 0 else f"map {j - 1}", fontsize=8)
        ax.axis("off")
    paths.append(_common.save(plt, fig, out, "feature_maps.png"))
    return paths


if __name__ == "__main__":
    main()
