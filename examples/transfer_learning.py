"""Transfer learning: reuse convolutional features learned on MNIST digits for Fashion-MNIST clothes.

    network = features (conv-ReLU-pool x 2: edges, strokes, corners) -> head (dense 64 -> dense 10)

    1. train the whole network on MNIST
    2. freeze the features (requires_grad = False: no gradients, no updates), put a new head on
       top and train only the head on a small Fashion-MNIST set
    3. compare with the same network trained from scratch on the same small set

The optimizer gets only the trainable parameters (gpudl refuses frozen ones: they would never
move). The frozen features were learned from 60,000 digits; only the head has to be learned from
the 1,000 labelled clothes. Whether strokes of digits make good features for clothes is what the
comparison with training from scratch shows.
"""
import numpy as np

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl.train import evaluate, fit

import _common


def features():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 14 x 14
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))  # 32 x 7 x 7


def head():
    return nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def train(model, loaders, epochs, args):
    """Adam on the trainable parameters only; returns (test accuracy, number of trained weights)."""
    train_loader, test_loader = loaders
    trainable = [p for p in model.parameters() if p.requires_grad]
    fit(model, gd.optim.Adam(trainable, lr=1e-3), F.cross_entropy, train_loader, epochs=epochs,
        progress=not args.quick)
    return evaluate(model, test_loader)["accuracy"], sum(p.size for p in trainable)


def main(argv=None):
    args = _common.parser(__doc__, data=True).parse_args(argv)
    dev = _common.setup(args)
    n_mnist, n_fashion, n_test, epochs = (512, 256, 256, 1) if args.quick else (None, 1000, None, 3)
    mnist_train, _, mnist_test = _common.loaders("mnist", dev, args, n_mnist, 0, n_test)
    fashion_train, _, fashion_test = _common.loaders("fashion-mnist", dev, args, n_fashion, 0, n_test)
    fashion = (fashion_train, fashion_test)

    pretrained = features()
    mnist_accuracy, _ = train(nn.Sequential(pretrained, head()).to(dev), (mnist_train, mnist_test), epochs, args)
    print(f"1. MNIST: test accuracy {mnist_accuracy:.1%}")

    for p in pretrained.parameters():
        p.requires_grad_(False)  # frozen: backprop stops here and the optimizer never sees them
    before = [p.numpy() for p in pretrained.parameters()]
    transfer = nn.Sequential(pretrained, head()).to(dev)  # the MNIST features under a new, random head
    transfer_accuracy, transfer_weights = train(transfer, fashion, epochs, args)
    unchanged = all(np.array_equal(b, p.numpy()) for b, p in zip(before, pretrained.parameters()))
    print(f"2. Fashion-MNIST, frozen MNIST features + new head: test accuracy {transfer_accuracy:.1%} "
          f"({transfer_weights:,} weights trained; frozen features unchanged: {unchanged})")

    scratch_accuracy, scratch_weights = train(nn.Sequential(features(), head()).to(dev), fashion, epochs, args)
    print(f"3. Fashion-MNIST, whole network from scratch:       test accuracy {scratch_accuracy:.1%} "
          f"({scratch_weights:,} weights trained)")
    return {"mnist_accuracy": mnist_accuracy, "transfer_accuracy": transfer_accuracy,
            "scratch_accuracy": scratch_accuracy, "transfer_weights": transfer_weights,
            "scratch_weights": scratch_weights, "features_unchanged": unchanged}


if __name__ == "__main__":
    main()
