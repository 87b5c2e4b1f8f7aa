"""The networks the lectures, the CLI and the benchmarks use (inputs 1 x 28 x 28, 10 classes)."""
from . import nn


def mlp(hidden=(256, 128), inputs=28 * 28, classes=10):
    """Flatten -> [Linear -> ReLU] per hidden size -> Linear: 784-256-128-10 by default."""
    layers, width = [nn.Flatten()], inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, classes))


def lenet5(classes=10):
    """LeCun et al. (1998), with ReLU and max pooling; padding 2 keeps 28 x 28 input at 28 x 28."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes))


def cnn(classes=10, width=32, dropout=0.25):
    """The reference CNN: two 3x3 conv blocks (conv-BN-ReLU-pool), then a small dense head.

    With width=32: conv 1->32 and 32->64, dense 64*7*7 -> 128 -> 10 (about 420K parameters).
    """
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 7 * 7, 128), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(128, classes))


MODELS = {"mlp": mlp, "lenet": lenet5, "cnn": cnn}
