"""Peers' metric conventions (TRAM, EvoApprox) beside dse's own: hand-computed tables,
an independent numpy computation, signed tables."""

import numpy as np
import pytest

from dse.arith import generate
from dse.design import evaluate
from dse.errors import ConfigError
from dse.eval import PeerMetrics, error_metrics, exact_table, peer_metrics

FIELDS = set(PeerMetrics.__dataclass_fields__)


def check(got: PeerMetrics, want: dict[str, float]) -> None:
    assert set(want) == FIELDS
    for name, value in want.items():
        assert getattr(got, name) == pytest.approx(value, rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize(
    "width_a,width_b,signed",
    [(2, 2, False), (3, 3, True), (8, 8, False), (8, 8, True), (5, 3, True)],
)
def test_exact_multiplier_is_all_zeros(width_a, width_b, signed):
    got = peer_metrics(exact_table(width_a, width_b, signed), width_a, width_b, signed)
    assert all(v == 0.0 for v in got.to_dict().values())
    assert all(type(v) is float for v in got.to_dict().values())


def test_2x2_unsigned_by_hand():
    # exact: [0 0 0 0] [0 1 2 3] [0 2 4 6] [0 3 6 9]
    lut = np.array(
        [
            [0, 0, 0, 1],  # 0*3 = 0, gives 1: |e| = 1 at an exact 0
            [0, 1, 2, 3],
            [0, 2, 4, 4],  # 2*3 = 6, gives 4: |e| = 2
            [0, 3, 4, 9],  # 3*2 = 6, gives 4: |e| = 2
        ]
    )
    # 16 pairs, sum |e| = 5; 9 pairs with a non-zero exact product
    check(
        peer_metrics(lut, 2, 2, False),
        {
            "tram_nmed": 5 / 16 / 16,  # MED / 2**(2+2)
            "tram_mred": (1 / 1 + 2 / 6 + 2 / 6) / 16,  # max(1, |exact|), all 16 pairs
            "evo_mae": 5 / 16,
            "evo_mae_pct": 100 * 5 / 16 / 16,
            "evo_wce": 2,
            "evo_wce_pct": 100 * 2 / 16,
            "evo_ep_pct": 100 * 3 / 16,
            "evo_mre_pct": 100 * (2 / 6 + 2 / 6) / 9,  # the exact-0 pair left out
            "evo_wcre_pct": 100 * 2 / 6,
            "evo_mse": (1 + 4 + 4) / 16,
        },
    )
    # beside dse's own: nmed over the largest product 3*3, mred over non-zero products
    ours = error_metrics(lut, exact_table(2, 2, False), width_a=2, width_b=2, signed=False)
    assert ours.nmed == pytest.approx(5 / 16 / 9)
    assert ours.mred == pytest.approx((2 / 6 + 2 / 6) / 9)


def test_3x3_signed_by_hand():
    # rows a, columns b by raw code 0..7 = values 0, 1, 2, 3, -4, -3, -2, -1
    exact = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0, 1, 2, 3, -4, -3, -2, -1],
            [0, 2, 4, 6, -8, -6, -4, -2],
            [0, 3, 6, 9, -12, -9, -6, -3],
            [0, -4, -8, -12, 16, 12, 8, 4],
            [0, -3, -6, -9, 12, 9, 6, 3],
            [0, -2, -4, -6, 8, 6, 4, 2],
            [0, -1, -2, -3, 4, 3, 2, 1],
        ]
    )
    assert np.array_equal(exact, exact_table(3, 3, True))
    lut = np.array(
        [
            [0, 0, 0, 0, 0, -2, 0, 0],  # 0*-3 = 0, gives -2: |e| = 2 at an exact 0
            [0, 1, 2, 3, -4, -3, -2, -1],
            [0, 2, 4, 6, -8, -6, -4, -2],
            [0, 3, 6, 9, -12, -9, -6, -4],  # 3*-1 = -3, gives -4: |e| = 1
            [0, -4, -8, -12, 12, 12, 8, 4],  # -4*-4 = 16, gives 12: |e| = 4
            [0, -3, -6, -9, 12, 9, 6, 3],
            [0, 0, -4, -6, 8, 6, 4, 2],  # -2*1 = -2, gives 0: |e| = 2
            [0, -1, -2, -3, 4, 3, 2, 1],
        ]
    )
    # 64 pairs, sum |e| = 9; 7*7 = 49 pairs with a non-zero exact product
    check(
        peer_metrics(lut, 3, 3, True),
        {
            "tram_nmed": 9 / 64 / 64,
            "tram_mred": (2 / 1 + 1 / 3 + 4 / 16 + 2 / 2) / 64,
            "evo_mae": 9 / 64,
            "evo_mae_pct": 100 * 9 / 64 / 64,
            "evo_wce": 4,
            "evo_wce_pct": 100 * 4 / 64,
            "evo_ep_pct": 100 * 4 / 64,
            "evo_mre_pct": 100 * (1 / 3 + 4 / 16 + 2 / 2) / 49,
            "evo_wcre_pct": 100 * 2 / 2,
            "evo_mse": (4 + 1 + 16 + 4) / 64,
        },
    )
    # dse's nmed divides by the largest signed product magnitude, 4*4
    ours = error_metrics(lut, exact, width_a=3, width_b=3, signed=True)
    assert ours.nmed == pytest.approx(9 / 64 / 16)


def straightforward(lut, width_a, width_b, signed):
    """Each definition written out directly over the whole table (no dse helpers)."""

    def values(width):
        codes = np.arange(2**width)
        return codes - 2**width * (codes >= 2 ** (width - 1)) if signed else codes

    x = values(width_a)[:, None] * values(width_b)[None, :]
    y = np.asarray(lut, dtype=np.int64)
    err = np.abs(y - x).astype(float)
    full = 2.0 ** (width_a + width_b)
    keep = x != 0
    return {
        "tram_nmed": err.mean() / full,
        "tram_mred": np.mean(err / np.maximum(1, np.abs(x))),
        "evo_mae": err.mean(),
        "evo_mae_pct": 100 * err.mean() / full,
        "evo_wce": err.max(),
        "evo_wce_pct": 100 * err.max() / full,
        "evo_ep_pct": 100 * np.mean(y != x),
        "evo_mre_pct": 100 * np.mean(err[keep] / np.abs(x[keep])),
        "evo_wcre_pct": 100 * np.max(err[keep] / np.abs(x[keep])),
        "evo_mse": np.mean(err**2),
    }


@pytest.mark.parametrize(
    "gen,wa,wb,signed,knobs",
    [
        ("dadda", 8, 8, False, {"truncate": 6}),
        ("array", 6, 4, False, {"truncate": 3, "compensate": 1}),
        ("booth", 8, 8, True, {"truncate": 5}),
        ("wallace", 6, 6, True, {"loa": 4}),
    ],
)
def test_truncated_multipliers_match_a_straightforward_numpy_computation(
    gen, wa, wb, signed, knobs
):
    report = evaluate(generate(gen, wa, wb, signed=signed, knobs=knobs))
    got = peer_metrics(report.lut, wa, wb, signed)
    want = straightforward(report.lut, wa, wb, signed)
    assert want["evo_ep_pct"] > 0
    check(got, want)
    # the figures dse's own metrics share with EvoApprox's
    assert got.evo_mae == pytest.approx(report.med, rel=1e-12)
    assert got.evo_wce == report.wce
    assert got.evo_ep_pct == pytest.approx(100 * report.er, rel=1e-12)
    assert got.evo_mre_pct == pytest.approx(100 * report.mred, rel=1e-9)
    assert got.evo_wcre_pct == pytest.approx(100 * report.wcre, rel=1e-9)
    assert got.evo_mse == pytest.approx(report.mse, rel=1e-12)
    # from the report's own (unweighted) metrics: the same figures
    fast = peer_metrics(report.lut, wa, wb, signed, metrics=report.metrics)
    for name, value in got.to_dict().items():
        assert getattr(fast, name) == pytest.approx(value, rel=1e-9), name


def test_tram_mred_counts_errors_at_zero_products_that_dse_mred_leaves_out():
    lut = exact_table(4, 4, False).copy()
    lut[0, :] = 1  # 0 * b = 0, gives 1: sixteen errors at exact 0
    got = peer_metrics(lut, 4, 4, False)
    ours = error_metrics(lut, exact_table(4, 4, False), width_a=4, width_b=4, signed=False)
    assert ours.mred == 0.0 and got.evo_mre_pct == 0.0 and got.evo_wcre_pct == 0.0
    assert got.tram_mred == pytest.approx(16 / 256)
    assert got.evo_ep_pct == pytest.approx(100 * 16 / 256)


def test_the_table_shape_is_checked():
    with pytest.raises(ConfigError, match=r"4x4 product table is 16x16, got shape \(16, 8\)"):
        peer_metrics(np.zeros((16, 8), dtype=np.int64), 4, 4, False)
