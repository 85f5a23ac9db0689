import json

import numpy as np
import pytest
from click.testing import CliRunner

from dse.nn import exact_lut, truncated_lut


def _run(args: list[str]):
    from dse.cli import cli

    return CliRunner().invoke(
        cli, ["finetune", *args], standalone_mode=False, catch_exceptions=True
    )


def _main(args: list[str], capsys) -> tuple[int, str]:
    from dse.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["finetune", *args])
    return int(exc.value.code), capsys.readouterr().err


def test_wrong_lut_shape(tmp_path, capsys) -> None:
    p = tmp_path / "m.npy"
    np.save(p, np.zeros((256, 100), dtype=np.int64))
    code, err = _main(["--multiplier", str(p)], capsys)
    assert code == 2 and err.startswith("error: ") and str(p) in err and err.count("\n") == 1


def test_wrong_lut_dtype(tmp_path, capsys) -> None:
    p = tmp_path / "f.npy"
    np.save(p, exact_lut(8).astype(np.float32))
    code, err = _main(["--multiplier", str(p)], capsys)
    assert code == 2 and "dtype" in err and str(p) in err


def test_multiplier_narrower_than_quantisation(tmp_path, capsys) -> None:
    p = tmp_path / "m4.npy"
    np.save(p, exact_lut(4))
    code, err = _main(["--multiplier", str(p), "--act-bits", "8"], capsys)
    assert code == 2 and "narrower" in err


def test_missing_multiplier_file(tmp_path, capsys) -> None:
    code, err = _main(["--multiplier", str(tmp_path / "x.npy")], capsys)
    assert code == 2 and "x.npy" in err


@pytest.mark.parametrize(
    "spec", ["cifar10:{d}/none", "mnist:{d}/none", "npz:{d}/none.npz", "npz:{d}/bad.npz"]
)
def test_bad_data_paths(tmp_path, capsys, spec: str) -> None:
    (tmp_path / "bad.npz").write_text("not an archive")
    p = tmp_path / "m.npy"
    np.save(p, exact_lut(8))
    data = spec.format(d=tmp_path)
    code, err = _main(["--multiplier", str(p), "--data", data], capsys)
    assert code == 2 and err.startswith("error: ") and data.split(":", 1)[1] in err


@pytest.mark.slow
def test_finetune_json_on_digits(tmp_path) -> None:
    p = tmp_path / "t8.npy"
    np.save(p, truncated_lut(8, 8))
    res = _run(
        [
            "--model",
            "cnn-digits",
            "--data",
            "digits",
            "--multiplier",
            str(p),
            "--json",
            "--epochs",
            "1",
            "--baseline-epochs",
            "10",
            "--no-progress",
        ]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("acc_float", "acc_exact_q", "acc_axm_before", "acc_axm_after", "seconds"):
        assert 0 <= out[key] <= (1 if key != "seconds" else 1e6)
    assert out["acc_float"] >= 0.9


def test_bad_optimizer_options_fail_before_training(tmp_path, capsys) -> None:
    p = tmp_path / "e.npy"
    np.save(p, exact_lut(8, 8))
    code, err = _main(
        ["--multiplier", str(p), "--optimizer", "logdomain", "--log-bits", "1"], capsys
    )
    assert code == 2 and "--log-bits" in err and "2..53" in err
    code, err = _main(["--multiplier", str(p), "--optimizer", "sgd", "--lr", "-1"], capsys)
    assert code == 2 and "--lr" in err


@pytest.mark.slow
def test_finetune_with_logdomain_optimizer(tmp_path) -> None:
    p = tmp_path / "t9.npy"
    np.save(p, truncated_lut(8, 9))
    res = _run(
        [
            "--model",
            "cnn-digits",
            "--data",
            "digits",
            "--multiplier",
            str(p),
            "--json",
            "--epochs",
            "0.5",
            "--baseline-epochs",
            "10",
            "--no-progress",
            "--optimizer",
            "logdomain",
            "--log-bits",
            "8",
            "--log-error",
            "0.0087",
        ]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["optimizer"] == "logdomain" and out["steps"] > 0
    assert 0 <= out["acc_axm_after"] <= 1


def test_unknown_gradient_estimator_is_one_line(capsys) -> None:
    code, err = _main(["--multiplier", "dadda:8", "--grad", "lut3d"], capsys)
    assert code == 2 and err == "error: --grad must be one of ste, lut2d, lut1d, got 'lut3d'\n"


def test_a_registered_estimator_is_a_study_option() -> None:
    """The search's accuracy model reads the estimator registry, not a fixed list."""
    from dse.errors import ConfigError
    from dse.nn import GRADIENTS, register_gradient
    from dse.search import AccuracyModel

    with pytest.raises(ConfigError, match=r"finetune.grad must be one of ste, lut2d, lut1d, got"):
        AccuracyModel("cnn1d", "mnist1d", grad="toy")
    register_gradient("toy", GRADIENTS["ste"])
    try:
        assert AccuracyModel("cnn1d", "mnist1d", grad="toy").grad == "toy"
    finally:
        del GRADIENTS["toy"]
