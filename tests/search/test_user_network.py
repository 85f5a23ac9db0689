"""A study on the user's own network: a model file with saved weights, npz data, layer
globs; NSGA-II to a front, resume, export; the bad inputs, each one line naming the
study file's field."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from dse.errors import DseError, StudyStateError
from dse.nn import AxMultiplier, ax_layers, convert, prepare, truncated_lut
from dse.search import export_study, pareto_rows, resume, run

from .conftest import SMALL_SPACE

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "custom_model" / "model.py"


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images of two classes (a bright top or bottom half), with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.normal(0, 0.3, size=(n, 1, 8, 8)).astype(np.float32)
    x[y == 0, 0, :4] += 1.0
    x[y == 1, 0, 4:] += 1.0
    return x, y.astype(np.int64)


def _net(x: np.ndarray, y: np.ndarray) -> nn.Module:
    """The example's network, trained for a few steps (a real, non-trivial model)."""
    from dse.nn import load_model

    torch.manual_seed(0)
    net = load_model(f"{MODEL}:build", (1, 8, 8), 2)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    for idx in torch.randperm(len(ys)).split(32):
        opt.zero_grad()
        nn.functional.cross_entropy(net(xs[idx]), ys[idx]).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("user_net")
    x, y = _data(192, 0)
    xt, yt = _data(96, 1)
    np.savez(d / "data.npz", X=x, y=y, X_test=xt, y_test=yt)
    net = _net(x, y)
    torch.save(net.state_dict(), d / "weights.pt")
    (d / "mul4u.yaml").write_text(SMALL_SPACE)
    return {"dir": d, "weights": d / "weights.pt", "data": d / "data.npz"}


def _plain_accuracy(files: dict[str, Path]) -> float:
    """The float accuracy as a plain PyTorch evaluation loop gives it."""
    from dse.nn import load_model

    net = load_model(f"{MODEL}:build", (1, 8, 8), 2)
    net.load_state_dict(torch.load(files["weights"], weights_only=True))
    net.eval()
    z = np.load(files["data"])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(
            torch.from_numpy(z["X_test"]), torch.from_numpy(z["y_test"])
        ),
        batch_size=17,
    )
    correct = total = 0
    with torch.no_grad():
        for xb, yb in loader:
            correct += int((net(xb).argmax(1) == yb).sum())
            total += len(yb)
    return correct / total


def _study(files: dict[str, Path], name: str, **fields: str) -> Path:
    body = {
        "name": name,
        "space": "mul4u.yaml",
        "model": f"{MODEL}:build",
        "weights": "weights.pt",
        "data": "{source: npz:data.npz, batch_size: 32, train_subset: 64}",
        "layers": "{exclude: [stem, fc]}",
        "device": "cpu",
        "finetune": "{steps: 2}",
        "objectives": "[accuracy_drop, power_uw]",
        "power": "{distribution: network}",
        "backend": "{name: nsga2, options: {population_size: 4}}",
        "budget": "{trials: 8}",
        "storage": "{heartbeat_interval: 1, grace_period: 2}",
    }
    body.update(fields)
    p = files["dir"] / f"{name}.yaml"
    p.write_text("".join(f"{k}: {v}\n" for k, v in body.items() if v != "-"))
    return p


def test_user_model_study_runs_resumes_and_exports(files: dict[str, Path]) -> None:
    name = "u_" + uuid.uuid4().hex[:8]
    url = f"sqlite:///{files['dir'] / (name + '.db')}"
    summary = run(_study(files, name), storage=url)
    assert summary.complete == 8 and summary.front_size >= 1
    study = optuna.load_study(study_name=name, storage=url)
    net = study.user_attrs["dse:network"]
    assert net["acc_float"] == _plain_accuracy(files)
    assert [(r["name"], r["approximated"]) for r in net["layers"]] == [
        ("stem", False),
        ("dw", True),
        ("pw", True),
        ("fc", False),
    ]
    assert net["layers"][1]["macs"] == 8 * 9 * 64  # depthwise: one 3x3 tap set per channel
    assert set(net["exact"]) == {"4x4u"} and len(net["hist"][0]) == 16
    tuned = [t for t in study.get_trials() if "accuracy" in t.user_attrs]
    assert tuned and all(
        t.user_attrs["accuracy"]["acc_float"] == net["acc_float"]
        and t.user_attrs["accuracy"]["acc_exact_q"] == net["exact"]["4x4u"]
        for t in tuned
    )
    resumed = resume(name, storage=url, trials=12)
    assert resumed.complete == 12
    rows = pareto_rows(study)
    assert rows
    (bundle,) = export_study(
        name, files["dir"] / "out", storage=url, trial=rows[0]["trial"], formats=["npy"]
    )
    assert any(p.suffix == ".npy" for p in Path(bundle).rglob("*"))


def test_excluded_layers_compute_exact_products(files: dict[str, Path]) -> None:
    prepared = prepare(
        f"{MODEL}:build",
        f"npz:{files['data']}",
        weights=files["weights"],
        exclude=["stem", "fc"],
        device="cpu",
    )
    assert prepared.layers == ["dw", "pw"]
    model = prepared.model
    float_out: dict[str, torch.Tensor] = {}
    for name in ("stem", "dw", "fc"):
        getattr(model, name).register_forward_hook(
            lambda m, i, o, name=name: float_out.__setitem__(name, (i[0], o))
        )
    # a multiplier far from exact: truncating 5 of the 8 product bits
    lossy = AxMultiplier.from_lut(truncated_lut(4, 5))
    ax = convert(__import__("copy").deepcopy(model), lossy, skip=prepared.skip)
    assert [n for n, _ in ax_layers(ax)] == ["dw", "pw"]
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name in ("stem", "dw", "fc"):
        getattr(ax, name).register_forward_hook(
            lambda m, i, o, name=name: seen.__setitem__(name, (i[0], o))
        )
    x = torch.from_numpy(np.load(files["data"])["X_test"][:8])
    with torch.no_grad():
        ax.eval()(x)
        stem, fc = ax.stem, ax.fc
        s_in, s_out = seen["stem"]
        assert torch.equal(s_out, nn.functional.conv2d(s_in, stem.weight, None, 1, 1))
        f_in, f_out = seen["fc"]
        assert torch.equal(f_out, nn.functional.linear(f_in, fc.weight, fc.bias))
        d_in, d_out = seen["dw"]
        exact = nn.functional.conv2d(d_in, ax.dw.weight, None, 1, 1, 1, ax.dw.groups)
        assert not torch.allclose(d_out, exact, atol=1e-3)  # the approximated layer differs


def test_python_objects_record_a_hash_and_resume_asks_for_them(
    files: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    name = "p_" + uuid.uuid4().hex[:8]
    url = f"sqlite:///{files['dir'] / (name + '.db')}"
    z = np.load(files["data"])
    train = torch.utils.data.TensorDataset(torch.from_numpy(z["X"]), torch.from_numpy(z["y"]))
    test = torch.utils.data.TensorDataset(
        torch.from_numpy(z["X_test"]), torch.from_numpy(z["y_test"])
    )
    net = _net(z["X"], z["y"])
    cfg = {
        "name": name,
        "space": str(files["dir"] / "mul4u.yaml"),
        "finetune": {"steps": 1},
        "layers": {"exclude": ["fc"]},
        "device": "cpu",
        "objectives": ["accuracy_drop", "power_uw"],
        "backend": {"name": "nsga2", "options": {"population_size": 4}},
        "budget": {"trials": 4},
    }
    assert run(cfg, storage=url, model=net, train=train, test=test).complete == 4
    stored = optuna.load_study(study_name=name, storage=url).user_attrs
    assert stored["dse:config"]["model"] == "python"
    assert stored["dse:network"]["model_class"] == "TinyNet"
    with pytest.raises(StudyStateError, match=r"resume it from Python .*model=, train=, test="):
        resume(name, storage=url, trials=6)
    from dse.cli import main

    with pytest.raises(SystemExit) as exc:  # the command line says the same in one line
        main(["resume", name, "--storage", url, "--threads", "1", "--no-progress"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert exc.value.code == 2 and last.startswith(f"error: study {name!r} fine-tunes a network")
    other = _net(z["X_test"], z["y_test"])
    with pytest.raises(StudyStateError, match="other weights"):
        resume(name, storage=url, trials=6, model=other, train=train, test=test)
    assert resume(name, storage=url, trials=6, model=net, train=train, test=test).complete == 6


def _error(files: dict[str, Path], **fields: str) -> str:
    name = "e_" + uuid.uuid4().hex[:8]
    url = f"sqlite:///{files['dir'] / (name + '.db')}"
    with pytest.raises(DseError) as exc:
        run(_study(files, name, **fields), storage=url)
    msg = str(exc.value)
    assert "\n" not in msg and f"{name}.yaml: field " in msg, msg
    return msg


def test_factory_not_found(files: dict[str, Path]) -> None:
    msg = _error(files, model=f"{MODEL}:nope")
    assert "field model: factory 'nope' not found in" in msg and "build" in msg


def test_factory_raises(files: dict[str, Path]) -> None:
    (files["dir"] / "broken.py").write_text(
        "def make(shape, classes):\n    raise ValueError('width must be even, got 7')\n"
    )
    msg = _error(files, model="broken.py:make")
    assert "field model: factory" in msg and "ValueError: width must be even, got 7" in msg


def test_weights_keys_mismatch(files: dict[str, Path]) -> None:
    state = torch.load(files["weights"], weights_only=True)
    torch.save({f"x.{k}": v for k, v in state.items()}, files["dir"] / "renamed.pt")
    msg = _error(files, weights="renamed.pt")
    assert "field weights:" in msg and "renamed.pt does not fit the model" in msg
    assert "missing keys stem.weight, bn1.weight" in msg and "unexpected keys x.stem.weight" in msg
    assert msg.count("(and ") == 2  # at most five keys of each kind are listed


def test_pickled_model_as_weights(files: dict[str, Path]) -> None:
    from dse.nn import load_model

    torch.save(load_model(f"{MODEL}:build", (1, 8, 8), 2), files["dir"] / "whole.pt")
    msg = _error(files, weights="whole.pt")
    assert "field weights:" in msg and "not a state dict" in msg
    assert "torch.save(model.state_dict(), 'whole.pt')" in msg


def test_data_shape_that_does_not_fit(files: dict[str, Path]) -> None:
    x = np.zeros((32, 40), np.float32)
    np.savez(files["dir"] / "flat.npz", X=x, y=np.arange(32) % 2)
    msg = _error(files, data="npz:flat.npz")
    assert "field data: samples of shape (1, 40) do not fit the model" in msg


def test_layers_glob_that_matches_nothing(files: dict[str, Path]) -> None:
    msg = _error(files, layers="{exclude: [stem, 'head*']}")
    assert "field layers.exclude: 'head*' matches no approximable layer" in msg
    assert "stem, dw, pw, fc" in msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_cuda(files: dict[str, Path]) -> None:
    msg = _error(files, device="cuda")
    assert "field device: 'cuda' asked for, but torch sees no CUDA device" in msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_option_without_cuda(files: dict[str, Path]) -> None:
    from dse.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^--device: 'cuda:1' asked for"):
        run(_study(files, "c_" + uuid.uuid4().hex[:8]), device="cuda:1")


def test_devices_option_is_validated() -> None:
    from dse.errors import ConfigError
    from dse.search import device_for_worker, parse_devices

    assert parse_devices("cuda:0, cuda:1") == ["cuda:0", "cuda:1"]
    assert [device_for_worker(["cuda:0", "cuda:1"], k) for k in range(3)] == [
        "cuda:0",
        "cuda:1",
        "cuda:0",
    ]
    assert device_for_worker(None, 3) is None
    with pytest.raises(ConfigError, match=r"^--devices: expected devices"):
        parse_devices("cuda:0,gpu1")


def test_weights_changed_since_the_study_started(files: dict[str, Path]) -> None:
    name = "w_" + uuid.uuid4().hex[:8]
    url = f"sqlite:///{files['dir'] / (name + '.db')}"
    w = files["dir"] / f"{name}.pt"
    w.write_bytes(files["weights"].read_bytes())
    run(_study(files, name, weights=w.name, **{"budget": "{trials: 4}"}), storage=url)
    state = torch.load(w, weights_only=True)
    state["fc.bias"] = state["fc.bias"] + 1
    torch.save(state, w)
    with pytest.raises(StudyStateError, match=r"field weights: .* changed since the study"):
        resume(name, storage=url, trials=8)
    w.unlink()
    with pytest.raises(StudyStateError, match=r"field weights: the study was started from .* put"):
        resume(name, storage=url, trials=8)
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    assert len(trials) == 4 and all(t.state.name == "COMPLETE" for t in trials)  # stopped first
    stored = json.dumps(optuna.load_study(study_name=name, storage=url).user_attrs["dse:config"])
    assert "weights_sha256" in stored and "model_sha256" in stored


def _torchvision() -> object:
    try:
        import torchvision
    except Exception as exc:  # a build that does not match torch fails in its C ops
        pytest.skip(f"torchvision is not usable here ({type(exc).__name__})")
    return torchvision


def test_torchvision_resnet18_with_weights(files: dict[str, Path]) -> None:
    tv = _torchvision()
    net = tv.models.resnet18(num_classes=2)  # type: ignore[attr-defined]
    torch.save(net.state_dict(), files["dir"] / "r18.pt")
    x = np.random.default_rng(0).normal(size=(16, 3, 32, 32)).astype(np.float32)
    np.savez(files["dir"] / "rgb.npz", X=x, y=np.arange(16) % 2)
    prepared = prepare(
        "torchvision:resnet18",
        f"npz:{files['dir'] / 'rgb.npz'}",
        weights=files["dir"] / "r18.pt",
        exclude=["conv1", "fc"],
        device="cpu",
    )
    assert "layer1.0.conv1" in prepared.layers and "fc" not in prepared.layers


def test_example_trains_and_its_study_validates(tmp_path: Path) -> None:
    import importlib.util
    import shutil

    from dse.search import load_study_config

    example = REPO / "examples" / "custom_model"
    for f in ("model.py", "train.py", "study.yaml"):
        shutil.copy(example / f, tmp_path / f)
    spec = importlib.util.spec_from_file_location("custom_model_train", tmp_path / "train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    assert train.main(tmp_path, epochs=1) > 0.5  # four classes: well above chance
    cfg = load_study_config(tmp_path / "study.yaml")
    assert cfg.model == f"{tmp_path / 'model.py'}:build" and cfg.weights_sha256
    assert cfg.layers.exclude == ["stem", "fc"] and cfg.data_spec == f"npz:{tmp_path / 'data.npz'}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_run_command_device_options_without_cuda(
    files: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    from dse.cli import main

    study = _study(files, "d_" + uuid.uuid4().hex[:8])
    url = f"sqlite:///{files['dir'] / 'cli.db'}"
    for extra, start in (
        (["--device", "cuda"], "error: --device: 'cuda' asked for, but torch sees no CUDA"),
        (["--workers", "2", "--devices", "cuda:0,tpu"], "error: --devices: expected devices"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(["run", str(study), "--storage", url, "--threads", "1", *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2 and err[-1].startswith(start), err
