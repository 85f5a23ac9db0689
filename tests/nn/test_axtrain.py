import torch

from dse.nn import (
    AxLinear,
    AxMultiplier,
    activation_encoding,
    truncated_lut,
    value_table,
    weight_encoding,
)

# private: the noise factors are checked against their formula
from dse.nn._axtrain import noise_factors


def test_noise_statistics_follow_the_error() -> None:
    mult = AxMultiplier.from_lut(truncated_lut(8, 10))
    table = value_table(
        mult, activation_encoding("unsigned", 8, 8, False), weight_encoding(8, 8, False)
    )
    nf = noise_factors(table, bins=4, rank=1)
    mean = nf.mean_u.T @ nf.mean_v
    # truncation always under-estimates: the modelled mean error is negative for positive operands
    assert mean[200, table.enc_b.vmax - 0 + 200] < 0
    assert (nf.var_u.T @ nf.var_v).min() > -1e-6


def test_passive_forward_is_noisy_and_trainable() -> None:
    torch.manual_seed(0)
    layer = AxLinear(32, 4, multiplier=AxMultiplier.from_lut(truncated_lut(8, 11)), passive=True)
    x = torch.randn(16, 32).relu()
    y1, y2 = layer(x), layer(x)
    assert not torch.equal(y1, y2)  # noise drawn per call
    y1.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_active_penalty_is_differentiable_and_prefers_low_error_codes() -> None:
    torch.manual_seed(1)
    layer = AxLinear(16, 4, multiplier=AxMultiplier.from_lut(truncated_lut(8, 10)))
    layer.track_act_histogram = True
    layer(torch.randn(8, 16).relu())
    p = layer.axtrain_penalty()
    p.backward()
    assert p.item() > 0 and layer.weight.grad.abs().sum() > 0
