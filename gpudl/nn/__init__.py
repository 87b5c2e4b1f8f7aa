"""Layers and modules: `import gpudl.nn as nn`."""
from . import functional, init, utils
from .module import Module, Parameter
from .layers import (Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, BatchNorm1d, BatchNorm2d,
                     ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Identity, Sequential)
