"""A CNN classifies Fashion-MNIST: 28x28 grey images of 10 kinds of clothing.

    conv 3x3 (32) -> BN -> ReLU -> maxpool 2x2      28x28 -> 14x14
    conv 3x3 (64) -> BN -> ReLU -> maxpool 2x2      14x14 -> 7x7
    flatten -> dropout -> dense 128 -> ReLU -> dropout -> dense 10      (logits; softmax in the loss)

    J = cross-entropy(softmax(logits), label),  Adam (lr 1e-3), mini-batches of 128

Pixels are standardised with the training set's statistics, x = (pixel/255 - 0.2860) / 0.3530.
5,000 training images are held out for validation: EarlyStopping watches the validation loss
(and restores the best weights), Checkpoint keeps the best model on disk. The test set is
looked at once, at the end.
"""
import os

import gpudl as gd
import gpudl.nn.functional as F
from gpudl import models
from gpudl.data import datasets
from gpudl.train import Checkpoint, EarlyStopping, evaluate, fit, predict

import _common


def main(argv=None):
    p = _common.parser(__doc__, data=True)
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args(argv)
    dev = _common.setup(args)
    n_train, n_test, epochs = (512, 256, 1) if args.quick else (None, None, args.epochs)
    train, val, test = _common.loaders("fashion-mnist", dev, args, n_train, 256 if args.quick else 5000, n_test)
    y_test = test.dataset.arrays[1]

    model = models.cnn().to(dev)
    optimizer = gd.optim.Adam(model.parameters(), lr=1e-3)
    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "fashion_mnist_cnn.npz")
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best=True)
    history = fit(model, optimizer, F.cross_entropy, train, val_data=val, epochs=epochs,
                  callbacks=[stopper, Checkpoint(checkpoint, best_only=True)], progress=not args.quick)
    for e in range(history.epochs):
        print(f"epoch {e + 1}: loss {history['loss'][e]:.4f}  val_loss {history['val_loss'][e]:.4f}  "
              f"val_accuracy {history['val_accuracy'][e]:.2%}")

    result = evaluate(model, test, F.cross_entropy)
    print(f"test accuracy {result['accuracy']:.2%} (best model kept by EarlyStopping; saved in {checkpoint})")
    predicted = predict(model, test).argmax(1)
    for k, name in enumerate(datasets.FashionMNIST.classes):  # which classes are hard? (shirt vs T-shirt...)
        mask = y_test == k
        if mask.any():
            print(f"  {name:12s} {(predicted[mask] == k).mean():6.1%}")
    _common.plot_history(args.out, history, "fashion_mnist_cnn.png")
    return {"test_accuracy": result["accuracy"], "test_loss": result["loss"], "epochs": history.epochs,
            "checkpoint": checkpoint, "history": history.metrics}


if __name__ == "__main__":
    main()
