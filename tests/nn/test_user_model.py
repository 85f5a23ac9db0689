"""Your own network in dse.nn: model specs, weights, data sources and options, layer
selection, the unsupported-layer warning, devices, and ``dse finetune`` on them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dse.errors import ConfigError, DataError
from dse.nn import (
    AxMultiplier,
    DataOptions,
    exact_lut,
    finetune,
    layer_macs,
    load_model,
    load_weights,
    open_source,
    prepare,
    resolve_device,
    select_layers,
    state_sha256,
)

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "custom_model" / "model.py"


def _npz(path: Path, n: int = 64, shape: tuple[int, ...] = (1, 8, 8)) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    y = (x.reshape(n, -1).mean(1) > 0).astype(np.int64)
    np.savez(path, X=x, y=y, X_test=x[: n // 2], y_test=y[: n // 2])
    return path


def test_factory_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = load_model(f"{MODEL}:build", (3, 8, 8), 5)
    assert a.stem.in_channels == 3 and a.fc.out_features == 5  # factory(shape, classes)
    (tmp_path / "netpkg_user.py").write_text(
        "from torch import nn\ndef small():\n    return nn.Sequential(nn.Flatten(), nn.Linear(4, 2))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    b = load_model("netpkg_user:small", (1, 4), 2)  # package.module:factory, no arguments
    assert isinstance(b, nn.Sequential)
    assert type(load_model("cnn1d", (1, 40), 10)).__name__ == "CNN1d"
    (tmp_path / "notmod.py").write_text("def f():\n    return 3\n")
    with pytest.raises(ConfigError, match=r"^model: factory .*notmod.py:f returned int"):
        load_model(f"{tmp_path / 'notmod.py'}:f", (1,), 2)
    with pytest.raises(ConfigError, match=r"^model: cannot import module 'no_such_pkg_x'"):
        load_model("no_such_pkg_x:f", (1,), 2)
    del sys.modules["netpkg_user"]


def test_weights_round_trip_and_checkpoint_forms(tmp_path: Path) -> None:
    net = load_model(f"{MODEL}:build", (1, 8, 8), 2)
    torch.save({"state_dict": net.state_dict()}, tmp_path / "ckpt.pt")
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / "dp.pt")
    for f in ("ckpt.pt", "dp.pt"):
        other = load_model(f"{MODEL}:build", (1, 8, 8), 2)
        sha = load_weights(other, tmp_path / f)
        assert len(sha) == 64 and state_sha256(other) == state_sha256(net)
    small = load_model(f"{MODEL}:build", (1, 8, 8), 3)
    with pytest.raises(DataError, match=r"shapes differ .* fc.weight \(3, 32\) vs \(2, 32\)"):
        load_weights(load_model(f"{MODEL}:build", (1, 8, 8), 2), _save(small, tmp_path))
    with pytest.raises(DataError, match="does not exist"):
        load_weights(net, tmp_path / "none.pt")


def _save(net: nn.Module, d: Path) -> Path:
    torch.save(net.state_dict(), d / "w3.pt")
    return d / "w3.pt"


def test_data_options_subset_and_normalisation(tmp_path: Path) -> None:
    p = _npz(tmp_path / "d.npz")
    src = open_source(f"npz:{p}", DataOptions(train_subset=16, mean=(1.0,), std=(2.0,)), seed=3)
    raw = np.load(p)
    assert src.train_size == 16 and src.input_shape == (1, 8, 8)
    plain = open_source(f"npz:{p}")
    assert plain.train_size == 64 and src.data.key != plain.data.key  # cached apart
    np.testing.assert_allclose(src.data.x_test.numpy(), (raw["X_test"] - 1.0) / 2.0, rtol=1e-6)
    with pytest.raises(ConfigError, match=r"^data.normalize: 3 means for 1 input channels"):
        open_source(f"npz:{p}", DataOptions(mean=(0, 0, 0), std=(1, 1, 1)))


def test_data_factory_file_gives_loaders(tmp_path: Path) -> None:
    (tmp_path / "sets.py").write_text(
        "import torch\n"
        "from torch.utils.data import TensorDataset\n"
        "def make():\n"
        "    g = torch.Generator().manual_seed(0)\n"
        "    x = torch.randn(40, 1, 8, 8, generator=g)\n"
        "    y = (x.mean((1, 2, 3)) > 0).long()\n"
        "    return TensorDataset(x, y), TensorDataset(x[:20], y[:20])\n"
        "def bad():\n"
        "    raise OSError('no disk')\n"
    )
    src = open_source(f"{tmp_path / 'sets.py'}:make", DataOptions(batch_size=8, train_subset=24))
    assert src.num_classes == 2 and src.input_shape == (1, 8, 8) and src.train_size == 24
    res = finetune(
        f"{MODEL}:build",
        src.data,
        AxMultiplier.exact(8),
        steps=2,
        baseline_epochs=1,
        exclude=["fc"],
        device="cpu",
    )
    assert 0 <= res.acc_axm_after <= 1
    with pytest.raises(ConfigError, match=r"^data: data factory .* raised OSError: no disk"):
        open_source(f"{tmp_path / 'sets.py'}:bad")


def test_layer_globs_macs_and_the_unsupported_warning() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
            self.up = nn.ConvTranspose2d(4, 4, 2)
            self.head = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.conv(x).mean((2, 3)))

    with pytest.warns(UserWarning, match=r"2 layer\(s\) .* attn \(MultiheadAttention\), up "):
        chosen = select_layers(Mixed(), exclude=["head"])
    assert chosen == ["conv"]  # the attention's inner out_proj is not listed on its own
    macs = layer_macs(Mixed(), torch.zeros(2, 1, 5, 5))
    assert macs == {"conv": 4 * 25 * 9, "head": 4 * 2}


def test_prepare_with_weights_trains_nothing(tmp_path: Path) -> None:
    p = _npz(tmp_path / "d.npz")
    net = load_model(f"{MODEL}:build", (1, 8, 8), 2)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    prepared = prepare(f"{MODEL}:build", f"npz:{p}", weights=tmp_path / "w.pt", device="cpu")
    assert prepared.weights_sha256 and prepared.layers == ["stem", "dw", "pw", "fc"]
    assert state_sha256(prepared.model) == state_sha256(net)


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match=r"^device: expected auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"^device: 'cuda:0' asked for, but torch sees no"):
            resolve_device("cuda:0")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_finetune_on_cuda(tmp_path: Path) -> None:
    p = _npz(tmp_path / "d.npz")
    net = load_model(f"{MODEL}:build", (1, 8, 8), 2)
    res = finetune(net, f"npz:{p}", AxMultiplier.exact(8), steps=2, device="cuda")
    assert 0 <= res.acc_axm_after <= 1


def test_finetune_command_on_a_user_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dse.cli import main

    p = _npz(tmp_path / "d.npz")
    net = load_model(f"{MODEL}:build", (1, 8, 8), 2)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    lut = tmp_path / "m.npy"
    np.save(lut, exact_lut(8))
    args = [
        "finetune",
        "--model",
        f"{MODEL}:build",
        "--weights",
        str(tmp_path / "w.pt"),
        "--data",
        f"npz:{p}",
        "--multiplier",
        str(lut),
        "--exclude",
        "stem",
        "--device",
        "cpu",
        "--epochs",
        "0",
        "--json",
        "--no-progress",
    ]
    main(args)
    out = json.loads(capsys.readouterr().out)
    assert out["acc_axm_before"] == out["acc_exact_q"]  # the exact table: no error
    with pytest.raises(SystemExit) as exc:
        main([*args[:-6], "--exclude", "nothing*", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.count("\n") == 0
    assert err.startswith("error: --exclude: 'nothing*' matches no approximable layer")


def test_imagefolder(tmp_path: Path) -> None:
    try:
        from PIL import Image
        from torchvision import datasets  # noqa: F401
    except Exception as exc:  # a torchvision build that does not match torch fails in C ops
        pytest.skip(f"torchvision is not usable here ({type(exc).__name__})")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for k, cls in enumerate(("bars", "dots")):
            folder = tmp_path / "imgs" / split / cls
            folder.mkdir(parents=True)
            for i in range(4):
                pixels = (rng.random((8, 8)) * 100 + 150 * k).astype(np.uint8)
                Image.fromarray(pixels, mode="L").save(folder / f"{i}.png")
    src = open_source(f"imagefolder:{tmp_path / 'imgs'}", DataOptions(batch_size=4))
    # ImageFolder reads every image as RGB
    assert src.num_classes == 2 and src.input_shape == (3, 8, 8) and src.train_size == 8
