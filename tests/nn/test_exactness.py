"""The fast path against the reference gather: bit-exact in exact mode, within bound otherwise."""

import numpy as np
import pytest
import torch

from dse.errors import ConfigError
from dse.nn import (
    AxConv1d,
    AxConv2d,
    AxLinear,
    AxMatmul,
    AxMultiplier,
    exact_lut,
    mitchell_lut,
    pruned_lut,
    truncated_lut,
)


def _multipliers(width: int) -> list[AxMultiplier]:
    rng = np.random.default_rng(width)
    pp = [(i, j) for i in range(width) for j in range(width) if rng.random() < 0.3]
    signed_lut = exact_lut(width, signed=True)
    signed_lut[:, 1] += 1  # a signed AxM whose error is affine in a's bits
    return [
        AxMultiplier.from_lut(truncated_lut(width, width + 1), name="trunc"),
        AxMultiplier.from_lut(pruned_lut(width, width, pp), name="pp-random"),
        AxMultiplier.from_lut(signed_lut, signed=True, name="signed-ax"),
        AxMultiplier.from_lut(mitchell_lut(width), name="mitchell"),
    ]


CONVS = {
    "groups": dict(cin=8, cout=6, k=3, stride=1, padding=1, dilation=1, groups=2),
    "depthwise": dict(cin=6, cout=6, k=3, stride=1, padding=1, dilation=1, groups=6),
    "stride2": dict(cin=4, cout=5, k=3, stride=2, padding=1, dilation=1, groups=1),
    "1x1": dict(cin=5, cout=7, k=1, stride=1, padding=0, dilation=1, groups=1),
    "dilation": dict(cin=3, cout=4, k=3, stride=1, padding=2, dilation=2, groups=1),
    "pad-asym-k": dict(cin=3, cout=4, k=2, stride=1, padding=3, dilation=1, groups=1),
}


def _layer_and_input(kind: str, cfg: dict, mult: AxMultiplier, **opts):
    if kind == "conv2d":
        layer = AxConv2d(
            cfg["cin"],
            cfg["cout"],
            cfg["k"],
            stride=cfg["stride"],
            padding=cfg["padding"],
            dilation=cfg["dilation"],
            groups=cfg["groups"],
            multiplier=mult,
            **opts,
        )
        return layer, torch.randn(2, cfg["cin"], 9, 8)
    layer = AxConv1d(
        cfg["cin"],
        cfg["cout"],
        cfg["k"],
        stride=cfg["stride"],
        padding=cfg["padding"],
        dilation=cfg["dilation"],
        groups=cfg["groups"],
        multiplier=mult,
        **opts,
    )
    return layer, torch.randn(2, cfg["cin"], 13)


def _run(layer, *inputs, kernel: str, grad_out=None):
    layer.set_options(kernel=kernel)
    xs = [t.detach().clone().requires_grad_() for t in inputs]
    if getattr(layer, "weight", None) is not None:
        layer.weight.grad = None
    y = layer(*xs)
    acc = layer.last_call.acc.clone()
    if grad_out is not None:
        y.backward(grad_out)
    grads = [x.grad for x in xs]
    w = getattr(layer, "weight", None)
    wgrad = w.grad.clone() if w is not None and w.grad is not None else None
    return y.detach(), acc, grads, wgrad


def _check_exact(layer, *inputs, relu: bool) -> None:
    layer.eval()  # frozen ranges: every run below must see the same scales
    if relu:
        inputs = tuple(t.relu() for t in inputs)
    y_fast, acc_fast, g_fast, w_fast = _run(layer, *inputs, kernel="fast")
    y_ref, acc_ref, g_ref, w_ref = _run(
        layer, *inputs, kernel="reference", grad_out=torch.randn_like(y_fast)
    )
    assert torch.equal(acc_fast, acc_ref)  # integer accumulators, bit for bit
    assert torch.equal(y_fast, y_ref)
    g = torch.randn_like(y_fast)
    _, _, g_fast, w_fast = _run(layer, *inputs, kernel="fast", grad_out=g)
    _, _, g_ref, w_ref = _run(layer, *inputs, kernel="reference", grad_out=g)
    for a, b in zip(g_fast, g_ref, strict=False):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    if w_fast is not None:
        assert torch.allclose(w_fast, w_ref, rtol=1e-4, atol=1e-4 * float(w_ref.abs().max()))


@pytest.mark.parametrize("width", [4, 8])
@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
@pytest.mark.parametrize("case", list(CONVS))
@pytest.mark.parametrize("act_mode", ["auto", "asymmetric"])
def test_conv_bit_exact(width: int, kind: str, case: str, act_mode: str) -> None:
    torch.manual_seed(0)
    for mult in _multipliers(width):
        for relu in (True, False):
            layer, x = _layer_and_input(kind, CONVS[case], mult, act_mode=act_mode, grad="lut1d")
            _check_exact(layer, x, relu=relu)


@pytest.mark.parametrize("width", [4, 8])
@pytest.mark.parametrize("grad", ["ste", "lut2d", "lut1d"])
def test_linear_and_matmul_bit_exact(width: int, grad: str) -> None:
    torch.manual_seed(1)
    for mult in _multipliers(width):
        layer = AxLinear(11, 5, multiplier=mult, grad=grad)
        _check_exact(layer, torch.randn(3, 4, 11), relu=False)
        _check_exact(layer, torch.randn(6, 11), relu=True)
        mm = AxMatmul(multiplier=mult, grad=grad)
        _check_exact(mm, torch.randn(2, 3, 5, 7), torch.randn(2, 3, 7, 4), relu=False)
        _check_exact(mm, torch.randn(2, 5, 7).softmax(-1), torch.randn(2, 7, 4), relu=False)


@pytest.mark.parametrize("grad", ["ste", "lut2d", "lut1d"])
def test_conv_all_estimators_large_reduction(grad: str) -> None:
    """K = 3·3·64 = 576 products: 8-bit sums exceed 2**24, the float32-exactness limit."""
    torch.manual_seed(2)
    mult = AxMultiplier.from_lut(truncated_lut(8, 9))
    layer = AxConv2d(64, 8, 3, padding=1, multiplier=mult, grad=grad)
    _check_exact(layer, torch.randn(2, 64, 6, 6), relu=True)
    layer.set_options(kernel="fast")
    layer(torch.randn(2, 64, 6, 6).relu())
    assert layer.last_call.plan.combine_float64


@pytest.mark.parametrize("rank", [0, 2, 6])
def test_bounded_mode_within_stated_bound(rank: int) -> None:
    torch.manual_seed(3)
    mult = AxMultiplier.from_lut(mitchell_lut(8))
    layer = AxConv2d(16, 4, 3, padding=1, multiplier=mult, mode="bounded", rank=rank)
    x = torch.randn(2, 16, 7, 7).relu()
    layer.eval()
    _, acc_fast, _, _ = _run(layer, x, kernel="fast")
    bound = layer.last_call.plan.bound
    assert not layer.last_call.plan.exact
    _, acc_ref, _, _ = _run(layer, x, kernel="reference")
    err = (acc_fast - acc_ref).abs().max().item()
    assert err <= bound
    assert bound > 0


def test_bounded_backward_within_factor_residual() -> None:
    torch.manual_seed(4)
    mult = AxMultiplier.from_lut(mitchell_lut(6))
    layer = AxLinear(10, 3, multiplier=mult, grad="lut2d", mode="bounded", rank=2, grad_rank=4)
    x = torch.randn(5, 10)
    g = torch.randn(5, 3)
    layer.eval()
    _, _, (gx_fast,), gw_fast = _run(layer, x, kernel="fast", grad_out=g)
    _, _, (gx_ref,), gw_ref = _run(layer, x, kernel="reference", grad_out=g)
    # private: the separable factors are checked against the table they stand for
    from dse.nn._separable import grad_factors

    call = layer.last_call
    fa, fb = grad_factors(call.table, "lut2d", 2, 4)
    # each input gradient sums 3 outputs' g·s_w·(table error <= residual)
    bound_x = fa.max_residual * float((g.abs() * call.s_w_out).sum(1).max()) + 1e-4
    assert (gx_fast - gx_ref).abs().max().item() <= bound_x
    bound_w = fb.max_residual * call.s_a * float(g.abs().sum(0).max()) + 1e-4
    assert (gw_fast - gw_ref).abs().max().item() <= bound_w


def test_multiplier_narrower_than_quantisation() -> None:
    with pytest.raises(ConfigError, match="narrower"):
        AxLinear(4, 2, multiplier=AxMultiplier.exact(4), act_bits=8)
    with pytest.raises(ConfigError, match="narrower"):
        AxConv2d(1, 1, 3, multiplier=AxMultiplier.exact(8, 4), weight_bits=8)


def test_bad_options() -> None:
    m = AxMultiplier.exact(4)
    with pytest.raises(ConfigError, match="grad"):
        AxLinear(4, 2, multiplier=m, grad="nope")
    with pytest.raises(ConfigError, match="unknown"):
        AxLinear(4, 2, multiplier=m, colour="red")
    with pytest.raises(ConfigError, match="padding_mode"):
        AxConv2d(1, 1, 3, padding=1, padding_mode="reflect", multiplier=m)(torch.randn(1, 1, 5, 5))


def test_exact_multiplier_matches_fake_quant_float() -> None:
    """With the accurate multiplier the layer equals a float conv on the quantised tensors."""
    torch.manual_seed(5)
    layer = AxConv2d(3, 4, 3, padding=1, multiplier=AxMultiplier.exact(8))
    x = torch.randn(2, 3, 6, 6).relu()
    y = layer(x)
    c = layer.last_call
    a = c.crop(c.ia.float() + c.enc_a.vmin) * c.s_a
    w = (c.ib.float() + c.enc_b.vmin) * c.s_w_b
    ref = torch.nn.functional.conv2d(a, w, layer.bias, padding=1)
    assert torch.allclose(y, ref, atol=1e-5, rtol=1e-5)
