"""Data sets: MNIST-1D and scikit-learn digits embedded; CIFAR-10, MNIST and .npz from disk.

Nothing is downloaded. MNIST-1D (Greydanus, "Scaling down deep learning", 2020) is
generated offline with ``mnist1d.data.make_dataset`` from a fixed seed (10,000 samples:
8,000 train, 2,000 test) and cached under the dse cache directory.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dse._status import step
from dse.errors import ConfigError, DataError

__all__ = ["DATA_NAMES", "Dataset", "cache_dir", "load_data"]

DATA_NAMES = ("mnist1d", "digits", "cifar10:DIR", "mnist:DIR", "npz:FILE")
_CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
_CIFAR_STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)


def cache_dir() -> Path:
    """``$DSE_CACHE_DIR``, else ``~/.cache/dse``."""
    return Path(os.environ.get("DSE_CACHE_DIR") or Path.home() / ".cache" / "dse")


@dataclass(eq=False)
class Dataset:
    """In-memory train/test tensors (float32 inputs, int64 labels)."""

    name: str
    key: str  # identifies the data for the baseline cache
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return tuple(self.x_train.shape[1:])

    def __post_init__(self) -> None:
        for split, x, y in (
            ("train", self.x_train, self.y_train),
            ("test", self.x_test, self.y_test),
        ):
            if x.shape[0] != y.shape[0]:
                raise DataError(
                    f"{self.name}: {split} has {x.shape[0]} inputs but {y.shape[0]} labels"
                )
            if x.shape[0] == 0:
                raise DataError(f"{self.name}: the {split} split is empty")


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32)), torch.as_tensor(
        np.asarray(y, dtype=np.int64)
    )


def _mnist1d(num_samples: int = 10000, seed: int = 42) -> Dataset:
    path = cache_dir() / "data" / f"mnist1d_n{num_samples}_s{seed}.npz"
    if path.is_file():
        z = np.load(path)
        d = {k: z[k] for k in ("x", "y", "x_test", "y_test")}
    else:
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples = num_samples
        args.seed = seed
        state = np.random.get_state()  # make_dataset reseeds numpy's global generator
        try:
            with step(f"generating MNIST-1D ({num_samples:,} samples; once, then cached)"):
                raw = make_dataset(args)
        finally:
            np.random.set_state(state)
        d = {k: raw[k] for k in ("x", "y", "x_test", "y_test")}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **d)
        os.replace(tmp, path)
    xtr, ytr = _tensors(d["x"][:, None, :], d["y"])
    xte, yte = _tensors(d["x_test"][:, None, :], d["y_test"])
    return Dataset("mnist1d", f"mnist1d-n{num_samples}-s{seed}", xtr, ytr, xte, yte, 10)


def _split(
    x: np.ndarray, y: np.ndarray, seed: int = 0, test_fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, round(len(y) * test_fraction))
    te, tr = order[:n_test], order[n_test:]
    return x[tr], y[tr], x[te], y[te]


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0 - 0.5) / 0.5
    xtr, ytr, xte, yte = _split(x[:, None], bunch.target)
    return Dataset("digits", "digits", *_tensors(xtr, ytr), *_tensors(xte, yte), 10)


def _file_key(paths: list[Path]) -> str:
    h = hashlib.sha1()
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def _cifar10(directory: Path) -> Dataset:
    if not directory.is_dir():
        raise DataError(f"{directory}: CIFAR-10 directory does not exist")
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    paths = [directory / n for n in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"{directory}: not a CIFAR-10 python-batch directory (missing {', '.join(missing)})"
        )
    xs, ys = [], []
    for p in paths:
        try:
            with open(p, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            labels = np.asarray(batch[b"labels"], dtype=np.int64)
        except Exception as exc:  # pickle raises many types on foreign files
            raise DataError(
                f"{p}: not a CIFAR-10 batch pickle ({type(exc).__name__}: {exc})"
            ) from None
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != data.shape[0]:
            raise DataError(
                f"{p}: expected 'data' of shape (N, 3072) and N labels, "
                f"got {data.shape} and {len(labels)}"
            )
        x = data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
        xs.append((x - _CIFAR_MEAN[:, None, None]) / _CIFAR_STD[:, None, None])
        ys.append(labels)
    xtr, ytr = _tensors(np.concatenate(xs[:5]), np.concatenate(ys[:5]))
    xte, yte = _tensors(xs[5], ys[5])
    return Dataset("cifar10", f"cifar10-{_file_key(paths)}", xtr, ytr, xte, yte, 10)


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    if ndim != expected_dims:
        raise DataError(f"{path}: IDX file has {ndim} dimensions, expected {expected_dims}")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: IDX header says {dims} but holds {body.size} bytes")
    return body.reshape(dims)


def _mnist(directory: Path) -> Dataset:
    if not directory.is_dir():
        raise DataError(f"{directory}: MNIST directory does not exist")
    found: dict[str, Path] = {}
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        for cand in (directory / stem, directory / f"{stem}.gz"):
            if cand.is_file():
                found[stem] = cand
                break
        else:
            raise DataError(f"{directory}: not an MNIST directory (missing {stem}[.gz])")
    xtr = _read_idx(found["train-images-idx3-ubyte"], 3)
    ytr = _read_idx(found["train-labels-idx1-ubyte"], 1)
    xte = _read_idx(found["t10k-images-idx3-ubyte"], 3)
    yte = _read_idx(found["t10k-labels-idx1-ubyte"], 1)

    def norm(x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float32) / 255.0 - 0.1307) / 0.3081)[:, None]

    return Dataset(
        "mnist",
        f"mnist-{_file_key(list(found.values()))}",
        *_tensors(norm(xtr), ytr),
        *_tensors(norm(xte), yte),
        10,
    )


def _npz(path: Path) -> Dataset:
    if not path.is_file():
        raise DataError(f"{path}: .npz file does not exist")
    try:
        z = np.load(path, allow_pickle=False)
        keys = set(z.files)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    if not {"X", "y"} <= keys:
        raise DataError(
            f"{path}: expected arrays 'X' and 'y' (optionally 'X_test', 'y_test'), "
            f"found {sorted(keys)}"
        )
    x, y = z["X"], z["y"]
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 2:
        raise DataError(f"{path}: 'X' must be a numeric array (N, ...), got {x.dtype} {x.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: 'y' must be N integer labels, got {y.dtype} {y.shape}")
    if x.ndim == 2:
        x = x[:, None, :]  # (N, F) -> one channel, for the 1-D CNN
    if {"X_test", "y_test"} <= keys:
        xte, yte = z["X_test"], z["y_test"]
        if xte.ndim == 2:
            xte = xte[:, None, :]
        xtr, ytr = x, y
    else:
        xtr, ytr, xte, yte = _split(x, y)
    if y.min() < 0:
        raise DataError(f"{path}: labels must be >= 0")
    classes = int(max(ytr.max(), yte.max())) + 1
    return Dataset(
        path.stem, f"npz-{_file_key([path])}", *_tensors(xtr, ytr), *_tensors(xte, yte), classes
    )


def load_data(spec: str) -> Dataset:
    """``mnist1d``, ``digits``, ``cifar10:DIR``, ``mnist:DIR`` or ``npz:FILE``."""
    if not isinstance(spec, str):
        raise ConfigError(f"data must be a string such as 'mnist1d', got {type(spec).__name__}")
    if spec == "mnist1d":
        return _mnist1d()
    if spec == "digits":
        return _digits()
    kind, sep, rest = spec.partition(":")
    if sep and rest:
        loaders = {"cifar10": _cifar10, "mnist": _mnist, "npz": _npz}
        if kind in loaders:
            return loaders[kind](Path(rest).expanduser())
    raise ConfigError(f"data {spec!r}: expected one of {', '.join(DATA_NAMES)}")
