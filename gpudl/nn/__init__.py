"""Layers and modules: `import gpudl.nn as nn`."""
from . import functional, init, utils
from .module import Module, Parameter, ModuleList, ModuleDict
from .layers import (Linear, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, BatchNorm1d,
                     BatchNorm2d, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Identity, Sequential, ELU, SiLU,
                     Softplus, Step, LogSoftmax)
from .losses import (CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, HuberLoss, SmoothL1Loss, BCELoss,
                     BCEWithLogitsLoss)
