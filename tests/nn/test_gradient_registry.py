"""A gradient estimator defined outside dse.nn, registered and used by layers and fine-tuning."""

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dse.errors import ConfigError
from dse.nn import (
    GRADIENTS,
    AxLinear,
    AxMultiplier,
    GradientEstimator,
    PreparedBaseline,
    ax_layers,
    gradient_names,
    register_gradient,
    truncated_lut,
)


class DoubledSteFrozenWeights(GradientEstimator):
    """Twice the straight-through gradient for activations, none for weights."""

    def tables(
        self, lut: np.ndarray, values_a: np.ndarray, values_b: np.ndarray, *, half_window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        ga = np.broadcast_to(2.0 * values_b[None, :], lut.shape)
        return ga, np.zeros(lut.shape)


@pytest.fixture
def toy() -> Iterator[str]:
    register_gradient("toy", DoubledSteFrozenWeights())
    try:
        yield "toy"
    finally:
        GRADIENTS.pop("toy")


def test_builtin_names_and_registration_errors(toy: str) -> None:
    assert gradient_names()[:3] == ("ste", "lut2d", "lut1d") and toy in gradient_names()
    with pytest.raises(ConfigError, match="already registered"):
        register_gradient(toy, DoubledSteFrozenWeights())
    with pytest.raises(ConfigError, match="GradientEstimator"):
        register_gradient("other", object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="grad estimator 'nope'"):
        AxMultiplier.exact(4).grad_tables("nope")


def test_tables_and_layer_backward_follow_the_toy(toy: str) -> None:
    mult = AxMultiplier.from_lut(truncated_lut(8, 9))
    ste_a, _ = mult.grad_tables("ste")
    ga, gb = mult.grad_tables(toy)
    assert np.array_equal(ga, 2 * ste_a) and not gb.any()
    grads = {}
    for grad in ("ste", toy):
        torch.manual_seed(0)
        layer = AxLinear(24, 6, multiplier=mult, grad=grad)
        x = torch.rand(5, 24, requires_grad=True)
        layer(x).backward(torch.randn(5, 6, generator=torch.Generator().manual_seed(1)))
        assert x.grad is not None and layer.weight.grad is not None
        grads[grad] = (x.grad.clone(), layer.weight.grad.clone())
    assert torch.equal(grads[toy][0], 2 * grads["ste"][0])
    assert grads["ste"][1].abs().sum() > 0 and not grads[toy][1].any()


def test_finetune_with_the_toy_leaves_weights_alone(toy: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 12, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    data = TensorDataset(x, y)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))
    pb = PreparedBaseline(
        model, (DataLoader(data, batch_size=32), DataLoader(data, batch_size=128))
    )
    res = pb.finetune(
        AxMultiplier.from_lut(truncated_lut(8, 9)),
        steps=3,
        grad=toy,
        lr=1e-2,
        reference=False,
        keep_model=True,
    )
    assert res.grad == toy and len(res.losses) == 3
    tuned = dict(ax_layers(res.model))
    assert set(tuned) == {"0", "2"}
    for name, base in (("0", model[0]), ("2", model[2])):
        assert torch.equal(tuned[name].weight, base.weight)  # no weight gradient: Adam keeps them
        assert not torch.equal(tuned[name].bias, base.bias)  # biases train as usual
