"""LeNet-5 reads handwritten digits (MNIST), as in LeCun et al. (1998), with ReLU and max pooling.

    conv 5x5 (6, padding 2) -> ReLU -> maxpool 2x2      28x28 -> 28x28 -> 14x14
    conv 5x5 (16)           -> ReLU -> maxpool 2x2      14x14 -> 10x10 -> 5x5
    flatten (400) -> dense 120 -> ReLU -> dense 84 -> ReLU -> dense 10        (about 62K weights)

    J = cross-entropy, Adam (lr 1e-3), mini-batches of 128; x = (pixel/255 - 0.1307) / 0.3081

MNIST is not packaged by Debian: pass --data-root (a folder with the four IDX .gz files), set
$GPUDL_DATA, or let gpudl download it into ~/.cache/gpudl/mnist.
"""
import gpudl as gd
import gpudl.nn.functional as F
from gpudl import models
from gpudl.train import fit

import _common


def main(argv=None):
    p = _common.parser(__doc__, data=True)
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args(argv)
    dev = _common.setup(args)
    n_train, n_test, epochs = (512, 256, 1) if args.quick else (None, None, args.epochs)
    train, _, test = _common.loaders("mnist", dev, args, n_train, 0, n_test, batch_size=128)
    model = models.lenet5().to(dev)
    print(f"LeNet-5: {sum(p.size for p in model.parameters()):,} parameters")
    optimizer = gd.optim.Adam(model.parameters(), lr=1e-3)
    history = fit(model, optimizer, F.cross_entropy, train, val_data=test, epochs=epochs, progress=not args.quick)
    for e in range(history.epochs):
        print(f"epoch {e + 1}: loss {history['loss'][e]:.4f}  test accuracy {history['val_accuracy'][e]:.2%}")
    _common.plot_history(args.out, history, "mnist_lenet5.png", val_label="test")
    return {"test_accuracy": history["val_accuracy"][-1], "epochs": history.epochs, "history": history.metrics}


if __name__ == "__main__":
    main()
