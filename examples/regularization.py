"""Overfitting and three cures, side by side: dropout, an L2 weight penalty, early stopping.

A big MLP (784-512-512-10, ~670K weights) trained on only 500 Fashion-MNIST images learns
them by heart: training accuracy reaches 100 % while validation accuracy stalls far below.

    dropout         during training each hidden unit is zeroed with probability p = 0.5 (and
                    the survivors scaled by 1/(1-p)), so no unit can rely on any other
    L2 penalty      J = cross-entropy + lambda * sum w^2   (nn.utils.l2_penalty; the optimizers'
                    weight_decay=lambda' applies the same pull towards 0 inside the update)
    early stopping  watch the validation loss; stop when it has not improved for `patience`
                    epochs and go back to the best weights

Watch the validation loss as well as the accuracy: the unregularised network grows ever more
confident on images it gets wrong, so its validation loss climbs while its accuracy stays put;
each cure keeps that loss down (on 500 images, accuracy itself moves by a point or two at most).
"""
import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl.nn.utils import l2_penalty
from gpudl.train import EarlyStopping, evaluate, fit

import _common

L2_LAMBDA = 3e-3


def network(dropout=0.0):
    drop = [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), *drop, nn.Linear(512, 512), nn.ReLU(), *drop,
                         nn.Linear(512, 10))


def l2_loss(model):
    """Cross-entropy plus lambda * sum of the squared weights (biases are not penalised)."""
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    return lambda out, y: F.cross_entropy(out, y) + l2_penalty(weights, L2_LAMBDA)


def variant(name, seed):
    """(model, loss function, callbacks) for one way of training, from the same seeded start."""
    gd.manual_seed(seed)  # dropout has no weights, so every variant starts from the same W
    model = network(dropout=0.5 if name == "dropout" else 0.0)
    loss_fn = l2_loss(model) if name == "l2" else F.cross_entropy
    callbacks = [EarlyStopping("val_loss", patience=3, restore_best=True)] if name == "early_stopping" else []
    return model, loss_fn, callbacks


def main(argv=None):
    args = _common.parser(__doc__, data=True).parse_args(argv)
    dev = _common.setup(args)
    n_train, n_val, epochs = (200, 300, 8) if args.quick else (500, 5000, 40)
    train, val, _ = _common.loaders("fashion-mnist", dev, args, n_train, n_val, n_test=0, batch_size=50)
    results, curves = {}, {}
    print(f"{'regularisation':15s} {'epochs':>6s} {'train acc':>9s} {'val acc':>8s} {'gap':>6s} {'val loss':>8s}")
    for name in ("none", "dropout", "l2", "early_stopping"):
        model, loss_fn, callbacks = variant(name, args.seed)
        model.to(dev)
        optimizer = gd.optim.Adam(model.parameters(), lr=1e-3)
        history = fit(model, optimizer, loss_fn, train, val_data=val, epochs=epochs, callbacks=callbacks,
                      progress=False)
        acc_train = evaluate(model, train)["accuracy"]
        on_val = evaluate(model, val, F.cross_entropy)  # plain cross-entropy, without any penalty
        acc_val = on_val["accuracy"]
        results[name] = {"train_accuracy": acc_train, "val_accuracy": acc_val, "val_loss": on_val["loss"],
                         "epochs": history.epochs}
        curves[name] = history["val_loss"]
        print(f"{name:15s} {history.epochs:6d} {acc_train:9.1%} {acc_val:8.1%} {acc_train - acc_val:6.1%} "
              f"{on_val['loss']:8.3f}")
    plot(args.out, curves)
    return results


def plot(out, curves):
    """Validation loss per epoch for each variant (with the L2 variant, its penalty included)."""
    plt = _common.pyplot(out)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, loss in curves.items():
        ax.plot(range(1, len(loss) + 1), loss, label=name)
    ax.set(xlabel="epoch", ylabel="validation loss", title="500 training images, big MLP")
    ax.legend()
    _common.save(plt, fig, out, "regularization.png")


if __name__ == "__main__":
    main()
