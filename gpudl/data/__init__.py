"""Data: datasets, the DataLoader, batch-wise transforms, IDX files, MNIST / Fashion-MNIST, toy sets.

    from gpudl.data import DataLoader, datasets, transforms as T
    train = datasets.FashionMNIST(train=True)
    loader = DataLoader(train, batch_size=128, shuffle=True, device='cuda',
                        transform=T.Compose([T.ToFloat(), T.Normalize(0.2860, 0.3530)]))
    for x, y in loader: ...
"""
from . import datasets, idx, synthetic, transforms
from .dataset import Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader
from .idx import read_idx, write_idx

__all__ = ["Dataset", "Subset", "TensorDataset", "random_split", "DataLoader", "datasets", "transforms",
           "idx", "synthetic", "read_idx", "write_idx"]
