import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dse.errors import ConfigError
from dse.nn import AxMultiplier, PreparedBaseline, finetune, truncated_lut


def _tiny_loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 12, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    ds = TensorDataset(x, y)
    return DataLoader(ds, batch_size=32, shuffle=False), DataLoader(ds, batch_size=128)


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))


def test_user_model_and_loaders_are_deterministic() -> None:
    mult = AxMultiplier.from_lut(truncated_lut(8, 9))
    runs = [
        finetune(_tiny_model(), _tiny_loaders(), mult, steps=8, grad="lut1d", seed=3)
        for _ in range(2)
    ]
    a, b = runs
    assert a.acc_axm_after == b.acc_axm_after and a.losses == b.losses
    assert a.act_hist.shape == (256,) and a.weight_hist.shape == (256,)
    assert a.act_hist.sum() > 0 and np.isclose(a.act_hist.sum(), a.weight_hist.sum())
    assert a.to_dict()["steps"] == 8


@pytest.mark.parametrize("axtrain", ["passive", "active", "both"])
def test_axtrain_modes_run(axtrain: str) -> None:
    res = finetune(
        _tiny_model(),
        _tiny_loaders(),
        AxMultiplier.from_lut(truncated_lut(8, 10)),
        steps=4,
        axtrain=axtrain,
    )
    assert 0 <= res.acc_axm_after <= 1 and len(res.losses) == 4


def test_bad_arguments() -> None:
    pb = PreparedBaseline(_tiny_model(), _tiny_loaders())
    mult = AxMultiplier.exact(8)
    with pytest.raises(ConfigError, match="grad"):
        pb.finetune(mult, steps=1, grad="magic")
    with pytest.raises(ConfigError, match="axtrain"):
        pb.finetune(mult, steps=1, axtrain="sometimes")
    with pytest.raises(ConfigError, match="steps"):
        pb.finetune(mult, steps=-1)


@pytest.mark.slow
def test_mnist1d_cnn_accuracy_and_recovery() -> None:
    pb = PreparedBaseline.load("cnn1d", "mnist1d", seed=0)
    assert pb.acc_float >= 0.95
    strong = AxMultiplier.from_lut(truncated_lut(8, 10), name="trunc10")
    res = pb.finetune(strong, epochs=1, lr=1e-3, seed=0)
    assert res.acc_exact_q >= res.acc_float - 0.01
    assert res.acc_axm_before <= res.acc_exact_q - 0.05  # a strongly approximate multiplier
    assert res.acc_axm_after - res.acc_axm_before >= 0.5 * (res.acc_exact_q - res.acc_axm_before)
    again = pb.finetune(strong, epochs=1, lr=1e-3, seed=0)
    assert again.acc_axm_after == res.acc_axm_after  # deterministic under a seed


@pytest.mark.slow
def test_digits_cnn_accuracy() -> None:
    pb = PreparedBaseline.load("cnn-digits", "digits", seed=0)
    assert pb.acc_float >= 0.95
    res = pb.finetune(AxMultiplier.exact(8), steps=0)
    assert res.acc_exact_q >= pb.acc_float - 0.01


def test_per_layer_multipliers_and_optimizer_factory() -> None:
    """A dict from layer name to multiplier converts only those layers, each with its own
    table; an optimizer factory replaces the default Adam."""
    from dse.nn import ax_layers
    from dse.optim import LogDomainSGD

    pb = PreparedBaseline(_tiny_model(), _tiny_loaders())
    coarse = AxMultiplier.from_lut(truncated_lut(8, 10), name="t10")
    exact = AxMultiplier.exact(8)
    made: list[object] = []

    def factory(params):
        opt = LogDomainSGD(params, lr=0.01, momentum=0.9, bits=8, error_mse=0.0087)
        made.append(opt)
        return opt

    res = pb.finetune({"0": coarse, "2": exact}, steps=3, seed=1, optimizer=factory)
    assert len(made) == 1 and len(res.losses) == 3
    assert res.multiplier.startswith("0=t10,2=")
    # only layer 0 through the coarse table: the exact-q accuracy is the per-layer exact model's
    only_first = pb.finetune({"0": coarse}, steps=0, seed=1)
    assert only_first.acc_exact_q == pytest.approx(pb.exact_quantized_accuracy({"0": exact}, 1))
    model = pb._calibrated({"0": coarse}, 1)
    assert [n for n, _ in ax_layers(model)] == ["0"]
    with pytest.raises(ConfigError, match="empty"):
        pb.finetune({}, steps=1)
    with pytest.raises(ConfigError, match=r"multiplier\['0'\]"):
        pb.finetune({"0": "exact"}, steps=1)  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="optimizer"):
        pb.finetune(exact, steps=1, optimizer="sgd")  # type: ignore[arg-type]
