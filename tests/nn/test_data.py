import gzip
import pickle
import struct

import numpy as np
import pytest

from dse.errors import ConfigError, DataError
from dse.nn import load_data


def _write_cifar(root) -> None:
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
        with open(root / name, "wb") as fh:
            pickle.dump(batch, fh)


def _idx(path, arr: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def test_cifar10_directory(tmp_path) -> None:
    _write_cifar(tmp_path / "c")
    d = load_data(f"cifar10:{tmp_path / 'c'}")
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32)
    assert d.y_train.tolist()[:4] == [0, 1, 2, 3]


def test_cifar10_errors(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"cifar10:{tmp_path / 'nope'}")
    (tmp_path / "partial").mkdir()
    with pytest.raises(DataError, match="missing"):
        load_data(f"cifar10:{tmp_path / 'partial'}")
    _write_cifar(tmp_path / "bad")
    (tmp_path / "bad" / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DataError, match="test_batch"):
        load_data(f"cifar10:{tmp_path / 'bad'}")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz: bool) -> None:
    rng = np.random.default_rng(1)
    _idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (6, 28, 28)), gz)
    _idx(tmp_path / "train-labels-idx1-ubyte", np.arange(6) % 10, gz)
    _idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (3, 28, 28)), gz)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(3), gz)
    d = load_data(f"mnist:{tmp_path}")
    assert d.x_train.shape == (6, 1, 28, 28) and d.y_test.tolist() == [0, 1, 2]


def test_mnist_errors(tmp_path) -> None:
    with pytest.raises(DataError, match="missing train-images"):
        load_data(f"mnist:{tmp_path}")
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (tmp_path / stem).write_bytes(b"\x01\x02\x03\x04rubbish")
    with pytest.raises(DataError, match="magic"):
        load_data(f"mnist:{tmp_path}")


def test_npz(tmp_path) -> None:
    p = tmp_path / "d.npz"
    np.savez(p, X=np.random.rand(50, 40), y=np.arange(50) % 3)
    d = load_data(f"npz:{p}")
    assert d.x_train.shape == (40, 1, 40) and d.x_test.shape == (10, 1, 40)
    assert d.num_classes == 3
    bad = tmp_path / "bad.npz"
    np.savez(bad, data=np.zeros(3))
    with pytest.raises(DataError, match="'X' and 'y'"):
        load_data(f"npz:{bad}")
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"npz:{tmp_path / 'missing.npz'}")
    txt = tmp_path / "t.npz"
    txt.write_text("hello")
    with pytest.raises(DataError, match=str(txt)):
        load_data(f"npz:{txt}")


def test_unknown_spec() -> None:
    with pytest.raises(ConfigError, match="mnist1d"):
        load_data("imagenet")


def test_digits_embedded() -> None:
    d = load_data("digits")
    assert d.input_shape == (1, 8, 8) and d.x_train.shape[0] + d.x_test.shape[0] == 1797
