"""Data for a fine-tune: the in-memory sets of :mod:`dse.nn._data`, image folders, a
user's ``file.py:factory``, or dataset objects; batch size, loader workers, a training
subset and per-channel normalisation.

In-memory sets (MNIST-1D, digits, CIFAR-10, MNIST, ``.npz``) stay tensors and are
batched by the fine-tune itself; anything else is a map-style
``torch.utils.data.Dataset`` read through a ``DataLoader``. The fine-tune rarely needs
a whole training set: ``train_subset`` keeps a fixed random subset (by the seed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from torch.utils.data import Dataset as TorchDataset

from dse.errors import ConfigError, DataError
from dse.nn._data import Dataset, load_data
from dse.nn._user import _factory, _first_line

__all__ = ["DataOptions", "Source", "open_source"]


@dataclass(frozen=True)
class DataOptions:
    """How data is fed: ``batch_size``, DataLoader ``num_workers``, ``train_subset``
    (samples of the training split the fine-tune uses; ``None``: all), and ``mean`` /
    ``std`` per input channel (``None``: inputs as the source gives them)."""

    batch_size: int = 128
    num_workers: int = 0
    train_subset: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass(eq=False)
class Source:
    """Opened data: in-memory tensors or two loaders, with what a model factory needs."""

    data: Dataset | tuple[DataLoader[Any], DataLoader[Any]]
    input_shape: tuple[int, ...]
    num_classes: int
    name: str
    key: str  # identifies the data (and its options) for a baseline cache
    train_size: int

    def sample(self, n: int = 2) -> torch.Tensor:
        """A few training inputs (for shape checks and MAC counts)."""
        if isinstance(self.data, Dataset):
            return self.data.x_train[:n]
        x, _ = next(iter(self.data[1]))
        return x[:n]


class _Normalized(TorchDataset[Any]):
    def __init__(self, base: Any, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.base, self.mean, self.std = base, mean, std

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        x, y = self.base[i]
        return (torch.as_tensor(x, dtype=torch.float32) - self.mean) / self.std, y


def _channel(values: Sequence[float], ndim: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(-1, *([1] * (ndim - 1)))


def _check_options(opt: DataOptions, where: str) -> None:
    if not isinstance(opt.batch_size, int) or opt.batch_size < 1:
        raise ConfigError(f"{where}.batch_size: must be an integer >= 1, got {opt.batch_size!r}")
    if not isinstance(opt.num_workers, int) or opt.num_workers < 0:
        raise ConfigError(f"{where}.num_workers: must be an integer >= 0, got {opt.num_workers!r}")
    if opt.train_subset is not None and (
        not isinstance(opt.train_subset, int) or opt.train_subset < 1
    ):
        raise ConfigError(
            f"{where}.train_subset: must be an integer >= 1, got {opt.train_subset!r}"
        )
    if (opt.mean is None) != (opt.std is None):
        raise ConfigError(f"{where}.normalize: give both mean and std")
    if opt.std is not None and any(s <= 0 for s in opt.std):
        raise ConfigError(f"{where}.normalize.std: must be > 0, got {list(opt.std)}")


def _imagefolder(directory: Path, where: str) -> tuple[Any, Any]:
    """``DIR/train/<class>/*`` and ``DIR/test/<class>/*`` (``val`` for ``test`` too)."""
    try:
        from torchvision import datasets, transforms
    except Exception as exc:
        raise ConfigError(
            f"{where}: imagefolder needs torchvision installed beside torch "
            f"(a torchvision build made for this torch; here: {_first_line(exc)})"
        ) from None
    if not directory.is_dir():
        raise DataError(f"{where}: image folder {directory} does not exist")
    test_dir = next((directory / n for n in ("test", "val") if (directory / n).is_dir()), None)
    if not (directory / "train").is_dir() or test_dir is None:
        raise DataError(f"{where}: {directory} needs train/ and test/ (or val/) class folders")
    tf = transforms.ToTensor()
    return datasets.ImageFolder(directory / "train", tf), datasets.ImageFolder(test_dir, tf)


def _user_sets(spec: str, where: str) -> tuple[Any, Any]:
    fn = _factory(spec, where)
    try:
        pair = fn()
    except Exception as exc:
        raise ConfigError(f"{where}: data factory {spec} raised {_first_line(exc)}") from None
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise DataError(
            f"{where}: data factory {spec} must return (train, test) datasets, "
            f"got {type(pair).__name__}"
        )
    return pair


def _num_classes(train: Any, test: Any) -> int:
    for ds in (train, test):
        classes = getattr(ds, "classes", None)
        if classes is not None:
            return len(classes)
    top = -1
    for ds in (train, test):
        targets = getattr(ds, "targets", None)
        if targets is not None:
            top = max(top, int(torch.as_tensor(targets).max()))
    if top < 0:  # no label list: read the test split's labels once
        top = max(int(test[i][1]) for i in range(len(test)))
    return top + 1


def _subset_indices(n: int, keep: int | None, seed: int) -> np.ndarray | None:
    if keep is None or keep >= n:
        return None
    return np.sort(np.random.default_rng(seed).permutation(n)[:keep])


def _in_memory(ds: Dataset, opt: DataOptions, seed: int, where: str, key: str) -> Dataset:
    xtr, ytr, xte = ds.x_train, ds.y_train, ds.x_test
    if opt.mean is not None and opt.std is not None:
        if len(opt.mean) not in (1, xtr.shape[1]):
            raise ConfigError(
                f"{where}.normalize: {len(opt.mean)} means for {xtr.shape[1]} input channels"
            )
        mean, std = _channel(opt.mean, xtr.ndim - 1), _channel(opt.std, xtr.ndim - 1)
        xtr, xte = (xtr - mean) / std, (xte - mean) / std
    keep = _subset_indices(xtr.shape[0], opt.train_subset, seed)
    if keep is not None:
        idx = torch.as_tensor(keep)
        xtr, ytr = xtr[idx], ytr[idx]
    if xtr is ds.x_train and xte is ds.x_test:
        return ds
    # a key of its own: a baseline trained on these tensors is cached apart from the full set's
    return Dataset(ds.name, key, xtr, ytr, xte, ds.y_test, ds.num_classes)


def _loaders(train: Any, test: Any, opt: DataOptions, seed: int, where: str) -> Source:
    for split, ds in (("train", train), ("test", test)):
        if not hasattr(ds, "__getitem__") or not hasattr(ds, "__len__"):
            raise DataError(
                f"{where}: the {split} set must be a map-style dataset (__getitem__, __len__), "
                f"got {type(ds).__name__}"
            )
        if len(ds) == 0:
            raise DataError(f"{where}: the {split} set is empty")
    num_classes = _num_classes(train, test)
    if opt.mean is not None and opt.std is not None:
        ndim = torch.as_tensor(train[0][0]).ndim
        mean, std = _channel(opt.mean, ndim), _channel(opt.std, ndim)
        train, test = _Normalized(train, mean, std), _Normalized(test, mean, std)
    keep = _subset_indices(len(train), opt.train_subset, seed)
    if keep is not None:
        train = Subset(train, keep.tolist())
    gen = torch.Generator().manual_seed(seed)
    kw: dict[str, Any] = {"batch_size": opt.batch_size, "num_workers": opt.num_workers}
    loaders = (
        DataLoader(train, shuffle=True, generator=gen, **kw),
        DataLoader(test, shuffle=False, **kw),
    )
    x0 = torch.as_tensor(train[0][0])
    return Source(loaders, tuple(x0.shape), num_classes, "custom", "", len(train))


def _data_key(base: str, opt: DataOptions, seed: int) -> str:
    return hashlib.sha1(f"{base}|{opt}|{seed}".encode()).hexdigest()[:12]


def open_source(
    data: str | Dataset | tuple[Any, Any],
    options: DataOptions | None = None,
    *,
    seed: int = 0,
    where: str = "data",
) -> Source:
    """Open ``data``: a spec (``mnist1d``, ``digits``, ``cifar10:DIR``, ``mnist:DIR``,
    ``npz:FILE``, ``imagefolder:DIR``, ``FILE.py:FACTORY``), a :class:`Dataset`, or a
    ``(train, test)`` pair of map-style datasets or DataLoaders."""
    opt = options or DataOptions()
    _check_options(opt, where)
    if isinstance(data, str):
        kind, sep, rest = data.partition(":")
        if kind == "imagefolder" and sep and rest:
            train, test = _imagefolder(Path(rest).expanduser(), where)
            src = _loaders(train, test, opt, seed, where)
            src.name, src.key = "imagefolder", _data_key(data, opt, seed)
            return src
        if sep and rest and kind not in ("cifar10", "mnist", "npz"):
            train, test = _user_sets(data, where)
            src = _loaders(train, test, opt, seed, where)
            src.name, src.key = data, _data_key(data, opt, seed)
            return src
        try:
            data = load_data(data)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if isinstance(data, Dataset):
        ds = _in_memory(data, opt, seed, where, _data_key(data.key, opt, seed))
        return Source(ds, ds.input_shape, ds.num_classes, ds.name, ds.key, int(ds.x_train.shape[0]))
    if isinstance(data, tuple) and len(data) == 2:
        train, test = data
        if isinstance(train, DataLoader) and isinstance(test, DataLoader):
            x0, _ = next(iter(test))
            classes = _num_classes(train.dataset, test.dataset)
            return Source((train, test), tuple(x0.shape[1:]), classes, "custom", "", 0)
        return _loaders(train, test, opt, seed, where)
    raise ConfigError(
        f"{where}: expected a data spec, a dse.nn.Dataset or (train, test) datasets, "
        f"got {type(data).__name__}"
    )
