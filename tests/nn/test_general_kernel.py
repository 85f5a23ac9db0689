"""The general kernel (any product table) against the reference gather.

Forward: bit-identical integer sums for every layer type, signed and unsigned 4/6/8-bit
multipliers and three kinds of table (Mitchell's, an approximate-compressor tree of the
shipped ``mul8u_compressor`` space, a random table). Backward: every built-in gradient
estimator against the reference backward; the compiled gather backward itself against the
reference gather to float64 round-off.
"""

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.arith import generate, replace_cell
from dse.design import as_design
from dse.nn import (
    AxConv1d,
    AxConv2d,
    AxLinear,
    AxMatmul,
    AxMultiplier,
    code_values,
    mitchell_lut,
    set_ax_options,
    truncated_lut,
)
from dse.nn._lut_kernel import general_accumulate, general_grads  # private: the kernel itself
from dse.nn._ops import ConvOp, MatmulOp  # private: the reference gather the kernel must match
from dse.nn._quant import activation_encoding, weight_encoding  # private: value tables
from dse.nn._separable import value_table  # private: the table the kernel reads
from dse.search import load_space

pytestmark = pytest.mark.skipif(
    not __import__("dse._jit", fromlist=["HAVE_NUMBA"]).HAVE_NUMBA,
    reason="the general kernel is compiled with numba",
)

SPACE = Path(__file__).resolve().parents[2] / "search_spaces" / "mul8u_compressor.yaml"


def _mitchell(width: int, signed: bool) -> np.ndarray:
    lut = mitchell_lut(width)
    if not signed:
        return lut
    v = code_values(width, True)  # sign-magnitude around Mitchell's magnitude product
    mag = np.abs(v)
    return np.sign(v)[:, None] * np.sign(v)[None, :] * lut[mag[:, None], mag[None, :]]


def _compressor(width: int, signed: bool) -> np.ndarray:
    if width == 8 and not signed:  # a design of the shipped space, as a study decodes it
        space = load_space(SPACE)
        cells = {"c42_s0_c3_0": "momeni_d1", "c42_s0_c5_0": "momeni_d2", "fa_s0_c2_0": "ama1"}
        return np.asarray(space.decode(space.encode_cells([cells]))[0].lut())
    graph = generate("c42tree", width, width, signed=signed)
    c42 = [n for n in graph.nodes if graph[n].kind == "c42"]
    fa = [n for n in graph.nodes if graph[n].kind == "fa"]
    for node in c42[:2]:
        graph = replace_cell(graph, node, "momeni_d1")
    for node in fa[:2]:
        graph = replace_cell(graph, node, "ama1")
    return np.asarray(as_design(graph).lut())


def _random(width: int, signed: bool) -> np.ndarray:
    rng = np.random.default_rng(width + 10 * signed)
    half = 2 ** (2 * width - 2)
    return rng.integers(-half if signed else 0, half, (2**width, 2**width))


@cache
def _mult(kind: str, width: int, signed: bool) -> AxMultiplier:
    make = {"mitchell": _mitchell, "compressor": _compressor, "random": _random}[kind]
    return AxMultiplier.from_lut(make(width, signed), signed=signed, name=kind)


def _layers(mult: AxMultiplier) -> list[tuple[str, torch.nn.Module, tuple[torch.Tensor, ...]]]:
    g = torch.Generator().manual_seed(1)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    torch.manual_seed(0)
    return [
        ("conv2d", AxConv2d(4, 6, 3, padding=1, multiplier=mult), (rand(2, 4, 7, 6),)),
        ("stride2", AxConv2d(3, 5, 3, stride=2, padding=1, multiplier=mult), (rand(2, 3, 9, 8),)),
        ("1x1", AxConv2d(5, 7, 1, multiplier=mult), (rand(2, 5, 4, 5),)),
        ("grouped", AxConv2d(8, 6, 3, padding=1, groups=2, multiplier=mult), (rand(2, 8, 5, 6),)),
        ("depthwise", AxConv2d(6, 6, 3, padding=1, groups=6, multiplier=mult), (rand(2, 6, 6, 5),)),
        (
            "conv1d",
            AxConv1d(3, 4, 3, padding=2, dilation=2, multiplier=mult),
            (rand(2, 3, 13),),
        ),
        ("linear", AxLinear(12, 9, multiplier=mult), (rand(5, 12),)),
        ("matmul", AxMatmul(multiplier=mult), (rand(2, 3, 4, 6), rand(2, 3, 6, 5))),
    ]


def test_broadcast_matmul_is_left_to_the_gather() -> None:
    # the kernel wants one weight set per batch element; other shapes are declined (None),
    # never read out of bounds
    mult = _mult("random", 6, True)
    table = value_table(
        mult, activation_encoding("signed", 6, 6, True), weight_encoding(6, 6, True)
    )
    ia = torch.randint(0, table.P.shape[0], (2, 3, 4, 6))
    ib = torch.randint(0, table.P.shape[1], (3, 6, 5))
    assert general_accumulate(MatmulOp(), table, ia, ib) is None


def _run(layer: torch.nn.Module, inputs: tuple[torch.Tensor, ...], kernel: str, grad: str):
    set_ax_options(layer, kernel=kernel, grad=grad)
    xs = [t.detach().clone().requires_grad_() for t in inputs]
    weight = getattr(layer, "weight", None)
    if weight is not None:
        weight.grad = None
    y = layer(*xs)
    call = layer.last_call
    y.backward(torch.linspace(-1, 1, y.numel()).view(y.shape))
    grads = [x.grad for x in xs] + ([weight.grad] if weight is not None else [])
    return y.detach(), call.acc.clone(), call.path, grads


KINDS = ["mitchell", "compressor", "random"]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("width", [4, 6, 8])
@pytest.mark.parametrize("kind", KINDS)
def test_forward_is_bit_identical_to_the_gather(kind: str, width: int, signed: bool) -> None:
    mult = _mult(kind, width, signed)
    for name, layer, inputs in _layers(mult):
        with torch.no_grad():
            set_ax_options(layer, kernel="fast")
            y_fast = layer(*inputs)
            fast = layer.last_call
            set_ax_options(layer, kernel="reference")
            y_ref = layer(*inputs)
            ref = layer.last_call
        assert fast.path == "general", (name, fast.plan.description)
        assert "general kernel" in fast.plan.description
        assert torch.equal(fast.acc, ref.acc), name
        assert torch.equal(y_fast, y_ref), name


@pytest.mark.parametrize("grad", ["ste", "lut2d", "lut1d"])
@pytest.mark.parametrize(
    ("kind", "width", "signed"),
    [
        ("mitchell", 8, False),
        ("compressor", 8, False),
        ("random", 6, True),
        ("compressor", 4, True),
    ],
)
def test_backward_matches_the_reference(grad: str, kind: str, width: int, signed: bool) -> None:
    mult = _mult(kind, width, signed)
    for name, layer, inputs in _layers(mult):
        y_fast, acc_fast, path, g_fast = _run(layer, inputs, "fast", grad)
        y_ref, acc_ref, _, g_ref = _run(layer, inputs, "reference", grad)
        assert path == "general" and torch.equal(acc_fast, acc_ref), name
        assert torch.equal(y_fast, y_ref), name
        for gf, gr in zip(g_fast, g_ref, strict=True):
            # float32 results; the fast side sums in another order (and for factored
            # estimators, through float32 GEMMs)
            tol = 1e-5 * float(gr.abs().max()) + 1e-7
            assert float((gf - gr).abs().max()) <= tol, (name, grad)


def test_lut2d_backward_runs_the_compiled_gather() -> None:
    # LUT-2D tables of Mitchell's product have no exact low-rank factors: the backward is
    # a gather from them, the compiled one on a CPU
    mult = _mult("mitchell", 8, False)
    layer = AxConv2d(4, 6, 3, padding=1, multiplier=mult, grad="lut2d", grad_rank=2)
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    layer(x).sum().backward()
    from dse.nn._separable import grad_factors  # private: which backward ran

    call = layer.last_call
    fac = grad_factors(call.table, "lut2d", call.half_window, 2)
    assert not (fac[0].exact and fac[1].exact)
    assert call.table.__dict__.get("_kernel")  # the kernel's gradient tables were built


@settings(max_examples=25, deadline=None)
@given(
    nd=st.sampled_from([1, 2]),
    groups=st.sampled_from([1, 2, 3]),
    per_group=st.integers(1, 3),
    out_per_group=st.integers(1, 6),
    k=st.integers(1, 3),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    size=st.integers(5, 9),
    seed=st.integers(0, 2**16),
)
def test_conv_kernel_against_gather(
    nd: int,
    groups: int,
    per_group: int,
    out_per_group: int,
    k: int,
    stride: int,
    dilation: int,
    size: int,
    seed: int,
) -> None:
    mult = _mult("random", 6, True)
    table = value_table(
        mult, activation_encoding("signed", 6, 6, True), weight_encoding(6, 6, True)
    )
    gen = torch.Generator().manual_seed(seed)
    na, nb = table.P.shape
    spatial = (size,) * nd
    ia = torch.randint(0, na, (2, groups * per_group, *spatial), generator=gen)
    ib = torch.randint(0, nb, (groups * out_per_group, per_group, *(k,) * nd), generator=gen)
    if (size - dilation * (k - 1) - 1) < 0:
        return  # no output position
    op = ConvOp(nd, (stride,) * nd, (dilation,) * nd, groups)
    acc = general_accumulate(op, table, ia, ib)
    ref = op.gather(ia, ib, torch.as_tensor(table.P))
    assert acc is not None and torch.equal(acc, ref.double())
    g = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    grads = general_grads(op, table, "lut2d", 2, ia, ib, g, g)
    ga, gb = (torch.as_tensor(t) for t in table.grad_tables("lut2d", 2))
    ref_a, ref_b = op.gather_grads(ia, ib, ga, gb, g)
    assert grads is not None and grads[0] is not None and grads[1] is not None
    for got, want in ((grads[0], ref_a), (grads[1], ref_b)):
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-9 * float(want.abs().max()))


def test_affine_tables_keep_the_affine_plan() -> None:
    layer = AxConv2d(4, 6, 3, padding=1, multiplier=AxMultiplier.from_lut(truncated_lut(8, 8)))
    with torch.no_grad():
        layer(torch.randn(2, 4, 6, 6))
    assert layer.last_call.path in ("int8", "float32")
    assert not layer.last_call.plan.general
