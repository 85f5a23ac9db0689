import numpy as np
import pytest
import torch
from torch import nn

from dse.errors import ConfigError
from dse.nn import (
    MODEL_NAMES,
    AxMatmul,
    AxMultiplier,
    Matmul,
    ax_layers,
    build_model,
    collect_histograms,
    convert,
    truncated_lut,
)

# private: the histogram recorder is checked on its own
from dse.nn._convert import _recording

SHAPES = {
    "cnn1d": (1, 40),
    "cnn-digits": (1, 8, 8),
    "lenet5": (1, 28, 28),
    "resnet20": (3, 32, 32),
    "vit-tiny": (3, 32, 32),
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_product_goes_through_the_multiplier(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, SHAPES[name], 10).eval()
    mult = AxMultiplier.from_lut(truncated_lut(8, 6))
    convert(model, mult)
    leftovers = [
        n for n, m in model.named_modules() if type(m) in (nn.Conv1d, nn.Conv2d, nn.Linear, Matmul)
    ]
    assert leftovers == []
    if name == "vit-tiny":
        assert sum(isinstance(m, AxMatmul) for _, m in ax_layers(model)) == 4  # QKᵀ and AV x 2
    x = torch.randn(2, *SHAPES[name])
    with _recording(model):
        y = model(x)
    assert y.shape == (2, 10)
    acts, weights = collect_histograms(model)
    assert acts.shape == (256,) and weights.shape == (256,)
    assert np.isclose(acts.sum(), weights.sum())


def test_convert_per_layer_dict() -> None:
    model = build_model("cnn1d", (1, 40), 10)
    a, b = AxMultiplier.exact(8), AxMultiplier.from_lut(truncated_lut(8, 8))
    convert(model, {"conv1": a, "fc": b})
    layers = dict(ax_layers(model))
    assert set(layers) == {"conv1", "fc"}
    assert layers["fc"].multiplier is b
    with pytest.raises(ConfigError, match="unknown layers"):
        convert(build_model("cnn1d", (1, 40), 10), {"nope": a})


def test_bad_model_name() -> None:
    with pytest.raises(ConfigError, match="cnn1d"):
        build_model("alexnet", (1, 40), 10)
