"""TRAM (dse.tram): phase-1 exactness and gradients, phase-2 mapping, power model."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from dse.arith import lower  # noqa: E402
from dse.design import evaluate  # noqa: E402
from dse.errors import ConfigError  # noqa: E402
from dse.eval import product_table  # noqa: E402
from dse.tram import (  # noqa: E402
    column_sum_tables,
    column_sums,
    map_theta,
    ratio_costs,
    reference_table,
    tram_calibrating,
    tram_layers,
    tram_product,
    tramify,
)


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


def _ops():
    return {
        "conv1d": (lambda a, w: F.conv1d(a, w, padding=1, stride=2), (2, 3, 9), (4, 3, 3)),
        "conv2d": (lambda a, w: F.conv2d(a, w, padding=1), (2, 2, 5, 5), (3, 2, 3, 3)),
        "linear": (lambda a, w: F.linear(a, w), (5, 7), (4, 7)),
        "matmul": (lambda a, b: a @ b, (2, 3, 6), (2, 6, 4)),
    }


def _brute_columns(a: np.ndarray, b: np.ndarray, wa: int, wb: int) -> np.ndarray:
    """S_c for one dot product Σ_k a_k b_k (sign-magnitude), by enumerating bits."""
    out = np.zeros(wa + wb - 1)
    for x, y in zip(a.ravel(), b.ravel(), strict=True):
        s = np.sign(x) * np.sign(y)
        for i in range(wa):
            for j in range(wb):
                out[i + j] += s * ((abs(int(x)) >> i) & 1) * ((abs(int(y)) >> j) & 1)
    return out


@pytest.mark.parametrize("name", ["conv1d", "conv2d", "linear", "matmul"])
def test_column_sums_exact(name: str) -> None:
    op, sa, sb = _ops()[name]
    g = torch.Generator().manual_seed(1)
    wa, wb = 4, 3
    a = torch.randint(-(2**wa - 1), 2**wa, sa, generator=g).double()
    b = torch.randint(-(2**wb - 1), 2**wb, sb, generator=g).double()
    s = column_sums(op, a, b, wa, wb)
    weights = 2.0 ** torch.arange(wa + wb - 1, dtype=torch.float64)
    recon = (s * weights.view(-1, *([1] * (s.dim() - 1)))).sum(0)
    assert torch.equal(recon, op(a, b))
    if name == "linear":  # brute force per output
        for n in range(sa[0]):
            for o in range(sb[0]):
                want = _brute_columns(a[n].numpy(), b[o].numpy(), wa, wb)
                assert np.array_equal(s[:, n, o].numpy(), want)


@pytest.mark.parametrize("name", ["conv1d", "conv2d", "linear", "matmul"])
def test_phase1_output_matches_formula(name: str) -> None:
    op, sa, sb = _ops()[name]
    g = torch.Generator().manual_seed(2)
    wa, wb = 3, 4
    a = torch.randint(0 if name == "conv2d" else -(2**wa - 1), 2**wa, sa, generator=g).double()
    b = torch.randint(-(2**wb - 1), 2**wb, sb, generator=g).double()
    theta = torch.rand(wa + wb - 1, generator=g, dtype=torch.float64)
    y = tram_product(op, a, b, theta, wa, wb)
    s = column_sums(op, a, b, wa, wb)
    coef = theta * 2.0 ** torch.arange(wa + wb - 1, dtype=torch.float64)
    want = op(a, b) - (coef.view(-1, *([1] * (s.dim() - 1))) * s).sum(0)
    assert torch.allclose(y, want, rtol=0, atol=1e-9)
    # integer θ: exact integers, equal bit for bit
    th01 = (theta > 0.5).double()
    y01 = tram_product(op, a, b, th01, wa, wb)
    want01 = op(a, b) - (
        (th01 * 2.0 ** torch.arange(wa + wb - 1)).view(-1, *([1] * (s.dim() - 1))) * s
    ).sum(0)
    assert torch.equal(y01, want01)
    # θ = 0: the exact product
    assert torch.equal(tram_product(op, a, b, torch.zeros_like(theta), wa, wb), op(a, b))


def test_theta_gradcheck() -> None:
    op = _ops()["conv1d"][0]
    g = torch.Generator().manual_seed(3)
    a = torch.randint(-7, 8, (1, 3, 5), generator=g).double()
    b = torch.randint(-7, 8, (2, 3, 3), generator=g).double()
    theta = torch.rand(5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: tram_product(op, a, b, t, 3, 3), (theta,))


def test_layer_theta_zero_is_exact_quantised_layer() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8, 3)
    )
    model = model.double()
    x = torch.randn(5, 1, 8, dtype=torch.float64)
    layers = tramify(model, 8)
    with torch.no_grad(), tram_calibrating(model):
        model(x)
    model.eval()
    with torch.no_grad():
        out = model(x)
    # reference: quantise by hand with the same scales, exact integer products
    conv = layers[0][1]
    a_int, b_int = conv.last_int
    assert torch.equal(a_int, a_int.round()) and torch.equal(b_int, b_int.round())
    lo, hi = float(conv.obs_a.lo), float(conv.obs_a.hi)
    s_a = max(hi, -lo) / 255
    w = conv.inner.weight.detach()
    s_w = w.abs().flatten(1).amax(1) / 255
    a_ref = torch.clamp(torch.round(x / s_a), -255, 255)
    w_ref = torch.clamp(torch.round(w / s_w.view(-1, 1, 1)), -255, 255)
    assert torch.equal(a_ref, a_int)
    y = F.conv1d(a_ref, w_ref, padding=1) * s_a * s_w.view(1, -1, 1) + conv.inner.bias.view(
        1, -1, 1
    )
    with torch.no_grad():
        assert torch.allclose(conv(x), y, rtol=1e-12, atol=1e-12)
    assert out.shape == (5, 3)
    # θ reaches every layer
    out = model(x)
    out.sum().backward()
    assert all(layer.theta.grad is not None for _, layer in tram_layers(model))


def test_vit_attention_and_mlp_are_tram_layers() -> None:
    from dse.nn import build_model

    model = build_model("vit-tiny", (1, 8, 8), 10)
    names = [n for n, _ in tramify(model, 6)]
    assert any(n.endswith("attn.qk") for n in names) and any("mlp" in n for n in names)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad(), tram_calibrating(model):
        model(x)
    model(x).sum().backward()
    assert all(m.theta.grad is not None for _, m in tram_layers(model))


def test_reference_and_column_tables() -> None:
    s = column_sum_tables(3, 3)
    a, b = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    assert np.array_equal((s * (2 ** np.arange(5))[:, None, None]).sum(0), a * b)
    assert np.array_equal(reference_table(np.zeros(5), 3, 3), a * b)
    assert np.array_equal(reference_table(np.ones(5), 3, 3), np.zeros((8, 8)))
    with pytest.raises(ConfigError, match="theta"):
        reference_table(np.zeros(4), 3, 3)


@pytest.mark.parametrize("moves,bases", [("published", ("array",)), ("rich", ("array", "dadda"))])
def test_mapping_monotone_validates_and_lut_matches(moves: str, bases: tuple[str, ...]) -> None:
    th = np.zeros(11)
    th[:4] = 1.0
    th[4] = 0.6
    th[5] = 0.2
    r = map_theta(th, 6, moves=moves, bases=bases)
    assert r.edits, "something should be removed"
    assert all(b < a for a, b in zip(r.mse_trace, r.mse_trace[1:], strict=False))
    assert r.mse < r.mse_start
    r.graph.validate()
    lut = product_table(lower(r.graph, net_names=False), 6, 6, signed=False)
    assert np.array_equal(lut, r.lut)
    ref = reference_table(th, 6, 6)
    assert np.isclose(((lut - ref) ** 2).mean(), r.mse)
    assert (
        evaluate(r.graph).power_uw
        < evaluate(__import__("dse.arith").arith.generate("array", 6)).power_uw
    )


def test_mapping_theta_zero_keeps_exact_and_is_fast() -> None:
    r = map_theta(np.zeros(15), 8)
    assert not r.edits and r.mse == 0
    th = np.clip(6.5 - np.arange(15), 0, 1)
    r = map_theta(th, 8)
    assert r.seconds < 5.0
    lut = product_table(lower(r.graph, net_names=False), 8, 8, signed=False)
    assert np.array_equal(lut, r.lut)


def test_ratio_costs_published_counts() -> None:
    c = ratio_costs(4)
    counts = np.asarray(c.info["counts"])
    assert counts[:, 0].sum() == 16  # AND gates
    assert counts[:, 1].sum() + counts[:, 2].sum() == 12  # 4x4 array: 4 HA + 8 FA
    assert np.isclose(c.power_fraction(np.zeros(7)), 1.0)
    assert np.isclose(c.power_fraction(np.ones(7)), 0.0)


def test_calibrated_costs_gap_reported() -> None:
    from dse.tram import calibrated_costs

    c = calibrated_costs(4, samples=12)
    assert c.kind == "calibrated" and c.costs.shape == (7,) and (c.costs >= 0).all()
    # analytic vs gate-level on a fresh θ: the gap is finite and recorded in the docs
    th = np.clip(3.5 - np.arange(7), 0, 1)
    g = map_theta(th, 4).graph
    gate = evaluate(g).power_uw / c.exact
    assert abs(c.power_fraction(th) - gate) < 0.5
    assert c.fit_rmse < 0.25


def test_errors() -> None:
    with pytest.raises(ConfigError, match="moves"):
        map_theta(np.zeros(7), 4, moves="magic")
    with pytest.raises(ConfigError, match="bases"):
        map_theta(np.zeros(7), 4, bases=("nope",))
    with pytest.raises(ConfigError, match="no Conv1d"):
        tramify(nn.Sequential(nn.ReLU()))


@pytest.mark.slow
def test_run_tram_tiny_sweep() -> None:
    from dse.nn import Dataset
    from dse.tram import run_tram

    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 1, 16, generator=g)
    y = (x[:, 0, :8].sum(1) > 0).long()
    data = Dataset("toy", "toy", x[:192], y[:192], x[192:], y[192:], 2)
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
    designs = run_tram(
        model,
        data,
        widths=4,
        lambdas=[0.0, 0.1, 10.0],
        power="ratio",
        phase1_steps=20,
        phase3_steps=5,
        grads=("ste", "lut1d"),
        batch_size=64,
    )
    assert [d.lam for d in designs] == [0.0, 0.1, 10.0]
    assert designs[-1].gate_power <= designs[0].gate_power + 1e-9
    assert set(designs[1].accuracy) == {"ste", "lut1d"}
    assert all(d.mapping_seconds[n] < 5 for d in designs for n in d.mapping_seconds)
    # no phase-1 steps: θ stays 0 and the mapped designs are the exact array
    (d0,) = run_tram(
        model,
        data,
        widths=4,
        lambdas=[1.0],
        power="ratio",
        phase1_steps=0,
        phase3_steps=0,
        grads=("lut1d",),
        batch_size=64,
    )
    assert d0.gate_power == pytest.approx(1.0, abs=1e-9)
    assert d0.analytic_power == pytest.approx(1.0)
