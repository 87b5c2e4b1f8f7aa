"""DataLoader, TensorDataset, Subset and random_split."""
import json

import numpy as np
import pytest

import gpudl as gd
from reference import order_ref
from gpudl.data import DataLoader, Dataset, Subset, TensorDataset, random_split, transforms as T


def _dataset(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return TensorDataset(x, np.arange(n) * 10)


def _rows(loader):
    """Sample ids in the order the loader yields them (the first column of x / 3)."""
    return np.concatenate([x.numpy()[:, 0] // 3 for x, _ in loader]).astype(int)


def test_one_epoch_covers_the_dataset_in_order():
    loader = DataLoader(_dataset(10), batch_size=3, device="cpu")
    assert len(loader) == 4
    batches = list(loader)
    assert [len(x) for x, _ in batches] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), np.arange(10) * 10)
    np.testing.assert_array_equal(_rows(loader), np.arange(10))


def test_drop_last():
    loader = DataLoader(_dataset(10), batch_size=3, drop_last=True, device="cpu")
    assert len(loader) == 3 and [len(x) for x, _ in loader] == [3, 3, 3]
    assert len(DataLoader(_dataset(9), batch_size=3, drop_last=True)) == 3


def test_shuffle_visits_each_sample_once_in_the_documented_order():
    loader = DataLoader(_dataset(25), batch_size=4, shuffle=True, seed=7, device="cpu")
    for epoch in range(2):
        rows = _rows(loader)
        np.testing.assert_array_equal(np.sort(rows), np.arange(25))
        np.testing.assert_array_equal(rows, order_ref(7, epoch, 25))


def test_shuffle_reproducible_and_differs_across_epochs():
    a = DataLoader(_dataset(50), batch_size=8, shuffle=True, seed=3)
    b = DataLoader(_dataset(50), batch_size=8, shuffle=True, seed=3)
    first, second = _rows(a), _rows(a)
    np.testing.assert_array_equal(first, _rows(b))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, _rows(DataLoader(_dataset(50), batch_size=8, shuffle=True, seed=4)))


def test_manual_seed_controls_the_default_seed():
    gd.manual_seed(11)
    a = _rows(DataLoader(_dataset(40), batch_size=8, shuffle=True))
    gd.manual_seed(11)
    b = _rows(DataLoader(_dataset(40), batch_size=8, shuffle=True))
    np.testing.assert_array_equal(a, b)
    c = _rows(DataLoader(_dataset(40), batch_size=8, shuffle=True, generator=np.random.default_rng(5)))
    d = _rows(DataLoader(_dataset(40), batch_size=8, shuffle=True, generator=np.random.default_rng(5)))
    np.testing.assert_array_equal(c, d)


def test_device_placement(device):
    x = np.random.default_rng(0).standard_normal((7, 2)).astype(np.float32)
    loader = DataLoader(TensorDataset(x, np.arange(7)), batch_size=4, device=device)
    for i, (xb, yb) in enumerate(loader):
        assert isinstance(xb, gd.Tensor) and xb.device == gd.device(device) and yb.device == gd.device(device)
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.numpy(), x[4 * i:4 * i + 4])
        np.testing.assert_array_equal(yb.numpy(), np.arange(7)[4 * i:4 * i + 4])


def test_device_placement_of_dataset_on_the_device(device):
    x = gd.tensor(np.arange(12.0, dtype=np.float32).reshape(6, 2), device=device)
    xb, = next(iter(DataLoader(TensorDataset(x), batch_size=6, shuffle=True, seed=1, device=device)))
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[order_ref(1, 0, 6)])


def _collect(loader, epochs_and_batches):
    out = []
    for _ in range(epochs_and_batches):
        out += [tuple(t.numpy() for t in batch) for batch in loader]
    return out


def test_state_dict_resume_gives_identical_batches():
    ds = TensorDataset(np.random.default_rng(0).integers(0, 255, (23, 1, 6, 6)).astype(np.uint8), np.arange(23))
    make = lambda seed: DataLoader(ds, batch_size=5, shuffle=True, seed=seed, device="cpu",  # noqa: E731
                                   transform=T.Compose([T.ToFloat(), T.RandomCrop(4, padding=1, seed=seed)]))
    a = make(1)
    list(a)  # epoch 0
    it = iter(a)
    [next(it) for _ in range(2)]  # part of epoch 1
    state = json.loads(json.dumps(a.state_dict()))  # plain values only
    assert state["epoch"] == 1 and state["batch"] == 2
    expected = [tuple(t.numpy() for t in batch) for batch in it] + _collect(a, 1)
    b = make(99)
    b.load_state_dict(state)
    got = _collect(b, 2)
    assert len(got) == len(expected) == 3 + 5
    for (gx, gy), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)


def test_state_after_a_full_epoch_points_to_the_next():
    a = DataLoader(_dataset(10), batch_size=5, shuffle=True, seed=2)
    list(a)
    assert a.state_dict() == {"seed": 2, "epoch": 1, "batch": 0}
    b = DataLoader(_dataset(10), batch_size=5, shuffle=True, seed=0)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(_rows(b), _rows(a))


def test_bad_state_and_arguments():
    loader = DataLoader(_dataset(10), batch_size=5)
    with pytest.raises(ValueError, match="missing keys"):
        loader.load_state_dict({"seed": 1})
    with pytest.raises(ValueError, match="out of range"):
        loader.load_state_dict({"seed": 1, "epoch": 0, "batch": 3})
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(10), batch_size=0)


class Squares(Dataset):
    """A map-style dataset with no batch access: item i is (i as a 2-vector, i*i, i / 2)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i, -i], dtype=np.int32), i * i, i / 2


def test_generic_dataset_goes_sample_by_sample():
    x, sq, half = next(iter(DataLoader(Squares(), batch_size=7, device="cpu")))
    np.testing.assert_array_equal(x.numpy(), [[i, -i] for i in range(7)])
    assert x.dtype == np.int32 and sq.dtype == np.int64 and half.dtype == np.float32
    np.testing.assert_array_equal(sq.numpy(), np.arange(7) ** 2)
    np.testing.assert_allclose(half.numpy(), np.arange(7) / 2)


def test_duck_typed_dataset_of_single_values():
    values = [float(v) for v in range(5)]
    batches = list(DataLoader(values, batch_size=2, device="cpu"))
    assert isinstance(batches[0], gd.Tensor)
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in batches]), values)


class NoItems(TensorDataset):
    def __getitem__(self, index):
        raise AssertionError("the fast path must not fetch sample by sample")


def test_tensor_dataset_fast_path_has_no_per_sample_loop():
    loader = DataLoader(NoItems(np.arange(10), np.arange(10) * 2), batch_size=4, shuffle=True, seed=0)
    assert sum(len(x) for x, _ in loader) == 10


def test_tensor_dataset():
    ds = TensorDataset(gd.tensor([[1.0, 2.0], [3.0, 4.0]]), [5, 6])
    assert len(ds) == 2
    x, y = ds[1]
    np.testing.assert_array_equal(gd.backend.to_numpy(x), [3.0, 4.0])  # on the default device
    assert y == 6
    assert all(isinstance(t, gd.Tensor) for t in ds.tensors)
    assert TensorDataset(gd.tensor([1.0], device="emu")).tensors[0].device == gd.device("emu")
    with pytest.raises(ValueError, match=r"\(3,\), \(2,\)"):
        TensorDataset(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize("lengths, sizes", [([6, 4], [6, 4]), ([0.8, 0.2], [8, 2]), ([1 / 3] * 3, [4, 3, 3])])
def test_random_split(lengths, sizes):
    ds = _dataset(10)
    parts = random_split(ds, lengths, seed=0)
    assert [len(p) for p in parts] == sizes and all(isinstance(p, Subset) for p in parts)
    ids = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(ids), np.arange(10))
    np.testing.assert_array_equal(ids, np.concatenate([p.indices for p in random_split(ds, lengths, seed=0)]))
    assert not np.array_equal(ids, np.concatenate([p.indices for p in random_split(ds, lengths, seed=1)]))
    first = parts[0]
    np.testing.assert_array_equal(first[0][0], ds.arrays[0][first.indices[0]])


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match="sum to the dataset length 10"):
        random_split(_dataset(10), [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(_dataset(10), [0.5, 0.4])


def test_subset_in_a_loader_uses_the_base_batches():
    base = NoItems(np.arange(20) * 3)
    sub = Subset(base, [5, 1, 17, 2])
    got = np.concatenate([x.numpy() for x, in DataLoader(sub, batch_size=3)])
    np.testing.assert_array_equal(got, np.array([5, 1, 17, 2]) * 3)


def _images_and_labels(n=37):
    rng = np.random.default_rng(3)
    return TensorDataset(rng.integers(0, 256, (n, 1, 6, 5)).astype(np.uint8), rng.integers(0, 10, n))


def _augmenting():
    return T.Compose([T.ToFloat(), T.RandomTranslate(1, seed=3), T.RandomHorizontalFlip(seed=4),
                      T.Normalize(0.25, 0.5)])


def test_resident_loader_gives_the_host_loaders_batches(kernel_device):
    ds = _images_and_labels()
    resident = DataLoader(ds, batch_size=8, shuffle=True, seed=5, device=kernel_device, transform=_augmenting())
    host = DataLoader(ds, batch_size=8, shuffle=True, seed=5, device="cpu", transform=_augmenting())
    assert resident.resident and not host.resident
    assert not DataLoader(ds, batch_size=8, device=kernel_device, resident=False).resident
    for _ in range(2):  # two epochs: the order and the augmentations change, identically
        got, expected = _collect(resident, 1), _collect(host, 1)
        assert len(got) == len(expected) == 5
        for (x, y), (ex, ey) in zip(got, expected):
            assert x.dtype == np.float32 and y.dtype == np.int64
            np.testing.assert_array_equal(x, ex)
            np.testing.assert_array_equal(y, ey)


def test_resident_loader_copies_nothing_to_the_device_per_batch(kernel_device):
    ds = _images_and_labels()
    with gd.profiler.profile() as made:
        resident = DataLoader(ds, batch_size=8, shuffle=True, device=kernel_device, transform=T.ToFloat())
    assert made.uploads == 2  # the images and the labels, once
    with gd.profiler.profile() as epoch:
        batches = list(resident)
    assert len(batches) == 5 and epoch.uploads == 0 and epoch.syncs == 0
    assert epoch.by_kernel()["permutation"] == 5
    with gd.profiler.profile() as copied:
        list(DataLoader(ds, batch_size=8, shuffle=True, device=kernel_device, resident=False))
    assert copied.uploads == 10  # the host path: both arrays of every batch


def test_resident_loader_resumes_exactly(kernel_device):
    ds = _images_and_labels(29)
    make = lambda: DataLoader(ds, batch_size=4, shuffle=True, seed=8, device=kernel_device,  # noqa: E731
                              transform=T.Compose([T.ToFloat(), T.RandomCrop(4, padding=1, seed=2)]))
    a = make()
    it = iter(a)
    [next(it) for _ in range(3)]
    state = json.loads(json.dumps(a.state_dict()))
    expected = [tuple(t.numpy() for t in batch) for batch in it] + _collect(a, 1)
    b = make()
    b.load_state_dict(state)
    got = _collect(b, 2)[:len(expected)]
    for g, e in zip(got, expected):
        for u, v in zip(g, e):
            np.testing.assert_array_equal(u, v)


def test_resident_subset_matches_host(kernel_device):
    train, _ = random_split(_images_and_labels(30), [20, 10], seed=1)
    resident = DataLoader(train, batch_size=6, shuffle=True, seed=2, device=kernel_device)
    assert resident.resident
    for (x, y), (ex, ey) in zip(_collect(resident, 1), _collect(DataLoader(train, batch_size=6, shuffle=True, seed=2), 1)):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_resident_argument_errors():
    ds = _images_and_labels()
    with pytest.raises(ValueError, match="resident must be True, False or 'auto'"):
        DataLoader(ds, resident="yes")
    with pytest.raises(ValueError, match="cuda or emu device, not cpu"):
        DataLoader(ds, device="cpu", resident=True)

    class Squares(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.float32(i * i), i

    with pytest.raises(ValueError, match="needs an array-backed dataset"):
        DataLoader(Squares(), device="emu", resident=True)
    assert not DataLoader(Squares(), device="emu").resident  # 'auto' falls back to the host path
