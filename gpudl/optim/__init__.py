"""Optimizers (θ ← θ − η · direction built from gradients) and learning-rate schedules."""
from .optimizer import Optimizer
from .optimizers import SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "lr_scheduler"]
