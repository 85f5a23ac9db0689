"""The int8 GEMM evaluation of exact plans: which layers take it, and bit-exactness against
the reference gather, including shapes that fall back to the float32 terms."""

import numpy as np
import pytest
import torch

from dse.nn import (
    AxConv1d,
    AxConv2d,
    AxLinear,
    AxMatmul,
    AxMultiplier,
    Encoding,
    exact_lut,
    truncated_lut,
)

# private: the int8 digit split is checked against exact int32 sums
from dse.nn._ops import ConvOp, LinearOp, MatmulOp, int_mm_available

# private: the int8 digit split is checked against exact int32 sums
from dse.nn._separable import INT32_EXACT, _fit_int8, _int8_digits, value_table

needs_int_mm = pytest.mark.skipif(
    not int_mm_available(torch.device("cpu")), reason="torch._int_mm is not usable on this CPU"
)


def _forward_both(layer, *inputs):
    """(fast call, reference call) of one eval-mode forward each, same scales."""
    layer.eval()
    layer.set_options(kernel="fast")
    y_fast = layer(*inputs)
    fast = layer.last_call
    layer.set_options(kernel="reference")
    y_ref = layer(*inputs)
    ref = layer.last_call
    assert torch.equal(fast.acc, ref.acc)
    assert torch.equal(y_fast, y_ref)
    return fast, ref


def test_int8_digits_reconstruct() -> None:
    for x in (
        np.arange(-255, 256),
        np.arange(0, 256),
        np.arange(-40000, 40000, 7),
        np.arange(-128, 128),
    ):
        digits = _int8_digits(x)
        assert all(d.min() >= -128 and d.max() <= 127 for d, _ in digits)
        assert np.array_equal(sum(d << s for d, s in digits), x)
    assert len(_int8_digits(np.arange(-128, 128))) == 1


def test_int8_groups_respect_int32_bound() -> None:
    mult = AxMultiplier.exact(8)
    table = value_table(mult, Encoding("unsigned", 8, 8), Encoding("signmag", 8, 8))
    phi, psi = table.enc_a.values(), table.enc_b.values()
    for k in (9, 576, 100_000):
        groups = _fit_int8([(phi, psi, 1)], k)
        assert groups
        total = np.zeros_like(table.P)
        for g in groups:
            assert g.rank in (1, 2, 4) or g.rank % 8 == 0
            assert (
                k
                * int((np.abs(g.a_feats).max(1).astype(np.int64) * np.abs(g.b_feats).max(1)).sum())
                <= INT32_EXACT
            )
            total += g.coef * (g.a_feats.astype(np.int64).T @ g.b_feats.astype(np.int64))
        assert np.array_equal(total, table.P)
    assert _fit_int8([(phi, psi, 1)], 2**20) == ()  # int32 cannot hold one term: float32 path


def test_truncated_plan_is_one_int8_group() -> None:
    mult = AxMultiplier.from_lut(truncated_lut(8, 8))
    table = value_table(mult, Encoding("unsigned", 8, 8), Encoding("signmag", 8, 8))
    plan = table.plan(576)
    assert len(plan.int_groups) == 1 and plan.int_groups[0].rank == 8
    assert plan.rank == 7  # the float32 fallback


@needs_int_mm
@pytest.mark.parametrize("r", [1, 2, 4, 8, 16])
def test_ops_apply_int8_matches_float_terms(r: int) -> None:
    """Every packing width (int8/16/32/64 words, two int64 words) against the float op."""
    gen = torch.Generator().manual_seed(r)
    lut_a = torch.randint(-128, 128, (20, r), dtype=torch.int8, generator=gen)
    lut_b = torch.randint(-128, 128, (30, r), dtype=torch.int8, generator=gen)

    def ref(op, ia, ib):
        return op.apply_terms(lut_a[ia].double(), lut_b[ib].double()).sum(0)

    cases = [
        (ConvOp(2, (1, 1), (1, 1), 1), (3, 5, 9, 8), (4, 5, 3, 3)),
        (ConvOp(2, (2, 1), (1, 2), 1), (2, 3, 11, 10), (6, 3, 3, 2)),
        (ConvOp(1, (2,), (1,), 1), (2, 4, 13), (5, 4, 3)),
        (LinearOp(), (7, 11), (5, 11)),
        (MatmulOp(), (2, 3, 5, 7), (2, 3, 7, 4)),
    ]
    for op, sa, sb in cases:
        ia = torch.randint(0, 20, sa, generator=gen)
        ib = torch.randint(0, 30, sb, generator=gen)
        out = op.apply_int8(ia, ib, lut_a, lut_b)
        assert out is not None and out.dtype == torch.int32
        assert torch.equal(out.double(), ref(op, ia, ib))
        if isinstance(op, ConvOp):  # the layers' channels-last codes give the same result
            cl = ia.movedim(1, -1).contiguous().movedim(-1, 1)
            assert torch.equal(op.apply_int8(cl, ib, lut_a, lut_b), out)


@needs_int_mm
def test_resnet_like_layers_take_int8_and_stay_bit_exact() -> None:
    torch.manual_seed(0)
    mult = AxMultiplier.from_lut(truncated_lut(8, 8))
    cases = [
        (AxConv2d(16, 16, 3, padding=1, multiplier=mult), (torch.randn(2, 16, 12, 12).relu(),)),
        (
            AxConv2d(3, 8, 3, padding=1, multiplier=mult),
            (torch.randn(2, 3, 10, 10),),
        ),  # signed input
        (AxConv2d(8, 16, 1, stride=2, multiplier=mult), (torch.randn(2, 8, 9, 9).relu(),)),
        (
            AxConv2d(8, 8, 3, stride=2, padding=1, multiplier=mult, act_mode="asymmetric"),
            (torch.randn(2, 8, 9, 9),),
        ),
        (
            AxConv1d(4, 6, 5, stride=2, padding=2, dilation=2, multiplier=mult),
            (torch.randn(3, 4, 40),),
        ),
        (AxLinear(64, 10, multiplier=mult), (torch.randn(5, 64).relu(),)),
        (AxMatmul(multiplier=mult), (torch.randn(2, 2, 5, 16), torch.randn(2, 2, 16, 3))),
    ]
    for layer, inputs in cases:
        fast, _ = _forward_both(layer, *inputs)
        assert fast.path == "int8", type(layer).__name__


@needs_int_mm
def test_large_image_is_split_into_line_blocks() -> None:
    """One image's im2col matrix larger than the cache block: blocks of output lines."""
    torch.manual_seed(1)
    mult = AxMultiplier.from_lut(truncated_lut(8, 9))
    layer = AxConv2d(32, 8, 3, padding=1, multiplier=mult)
    fast, _ = _forward_both(layer, torch.randn(1, 32, 61, 47).relu())
    assert fast.path == "int8"


def test_fallbacks_stay_bit_exact() -> None:
    """Grouped/depthwise convolutions and plans without int8 groups take the float32 terms."""
    torch.manual_seed(2)
    trunc = AxMultiplier.from_lut(truncated_lut(8, 8))
    for layer, x in [
        (AxConv2d(8, 6, 3, padding=1, groups=2, multiplier=trunc), torch.randn(2, 8, 7, 7).relu()),
        (AxConv2d(6, 6, 3, padding=1, groups=6, multiplier=trunc), torch.randn(2, 6, 7, 7)),
        (AxConv1d(4, 4, 3, padding=1, groups=4, multiplier=trunc), torch.randn(2, 4, 11)),
    ]:
        fast, _ = _forward_both(layer, x)
        assert fast.path == "float32"
    # the accurate multiplier's single float32 term is cheaper than its int8 digit groups
    exact = AxMultiplier.from_lut(exact_lut(8))
    layer = AxConv2d(8, 4, 3, padding=1, multiplier=exact)
    fast, _ = _forward_both(layer, torch.randn(2, 8, 6, 6).relu())
    assert fast.path == "float32" and not fast.plan.int_groups


@needs_int_mm
@pytest.mark.parametrize("grad", ["ste", "lut1d", "lut2d"])
def test_int8_training_step_matches_reference_gradients(grad: str) -> None:
    torch.manual_seed(3)
    mult = AxMultiplier.from_lut(truncated_lut(8, 8))
    layer = AxConv2d(
        8, 6, 3, stride=2, padding=1, multiplier=mult, grad=grad, act_mode="asymmetric"
    )
    layer.eval()
    x = torch.randn(2, 8, 9, 9)
    grads = {}
    for kernel in ("fast", "reference"):
        layer.set_options(kernel=kernel)
        layer.weight.grad = None
        xi = x.clone().requires_grad_()
        y = layer(xi)
        y.backward(torch.linspace(-1, 1, y.numel()).view_as(y))
        grads[kernel] = (xi.grad, layer.weight.grad.clone())
        if kernel == "fast":
            assert layer.last_call.path == "int8"
    (gx, gw), (rx, rw) = grads["fast"], grads["reference"]
    assert torch.allclose(gx, rx, rtol=1e-4, atol=1e-5)
    assert torch.allclose(gw, rw, rtol=1e-4, atol=1e-4 * float(rw.abs().max()))
