"""Logarithmic multipliers: Mitchell (1962) and Babić et al.'s ILM (2011)."""

from __future__ import annotations

import numpy as np
import pytest

from dse.arith import from_spec, generate, lower

# private: the log family's internal steps are checked against their formulas
from dse.arith._logarithmic import (
    ilm_multiplier,
    ilm_reference,
    mitchell_multiplier,
    mitchell_reference,
)
from dse.errors import ConfigError
from dse.eval import exhaustive_input_words, pack_operands, read_outputs, simulate


def _operands(width: int, signed: bool) -> np.ndarray:
    v = np.arange(1 << width, dtype=np.int64)
    return np.where(v >= 1 << (width - 1), v - (1 << width), v) if signed else v


def _lut(graph):  # type: ignore[no-untyped-def]
    nl = lower(graph)
    wa, wb = graph.width_a, graph.width_b
    vals = simulate(nl, exhaustive_input_words(wa, wb))
    return read_outputs(nl, vals, 1 << (wa + wb), signed=graph.signed).reshape(1 << wa, 1 << wb)


REFS = {"mitchell": mitchell_reference, "ilm": ilm_reference}


def test_mitchell_reference_small_cases() -> None:
    a = np.array([0, 5, 3, 7, 6, 12, 255, 1])
    b = np.array([9, 0, 3, 7, 5, 12, 255, 1])
    # 3*3: k=1, x=.5 each, x1+x2 = 1 -> 2**3 * 1 = 8; 7*7: k=2, x=.75 -> 2**5 * 1.5 = 48
    # 6*5: 2**4 * (1 + .5 + .25) = 28; 12*12: x1 + x2 = 1, so 2**(3+3+1) * 1 = 128;
    # 255*255: k = 7, f = 127, t = 2 * 127 * 128 >= 2**14 -> P = 2 t = 65024
    want = [0, 0, 8, 48, 28, 128, 65024, 1]
    assert mitchell_reference(a, b).tolist() == want
    # exact for powers of two
    p = np.int64(1) << np.arange(8)
    assert (mitchell_reference(p[:, None], p[None, :]) == p[:, None] * p[None, :]).all()


def test_ilm_reference_small_cases() -> None:
    # 7*7: P0 = 7*4 + 3*4 = 40; correction P0(3, 3) = 3*2 + 1*2 = 8 -> 48 (exact 49)
    assert ilm_reference(np.array([7]), np.array([7]), corrections=0).tolist() == [40]
    assert ilm_reference(np.array([7]), np.array([7])).tolist() == [48]
    assert ilm_reference(np.array([7]), np.array([7]), corrections=2).tolist() == [49]
    assert ilm_reference(np.array([0, 9]), np.array([9, 0])).tolist() == [0, 0]


@pytest.mark.parametrize("name", ["mitchell", "ilm"])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("widths", [(2, 2), (4, 4), (6, 6), (8, 8), (3, 7), (7, 3), (5, 2)])
def test_exhaustive_netlist_equals_reference(
    name: str, widths: tuple[int, int], signed: bool
) -> None:
    wa, wb = widths
    g = generate(name, wa, wb, signed=signed).validate()
    assert g.info["generator"] == name and g.info["spec"] is None
    a, b = _operands(wa, signed), _operands(wb, signed)
    want = REFS[name](a[:, None], b[None, :], signed=signed)
    table = _lut(g)
    assert (table == want).all()
    # graph.evaluate (reference semantics) agrees on samples
    rng = np.random.default_rng(wa * 31 + wb)
    for ia, ib in rng.integers(0, [1 << wa, 1 << wb], size=(25, 2)):
        assert g.evaluate(int(ia), int(ib)) == table[ia, ib]


@pytest.mark.parametrize("name", ["mitchell", "ilm"])
@pytest.mark.parametrize(
    ("wa", "wb", "signed"), [(12, 12, False), (16, 16, False), (16, 16, True), (16, 9, False)]
)
def test_random_wide(name: str, wa: int, wb: int, signed: bool) -> None:
    g = generate(name, wa, wb, signed=signed)
    nl = lower(g)
    rng = np.random.default_rng(12345 + wa + wb)
    n = 100_000
    ra = rng.integers(0, 1 << wa, size=n, dtype=np.int64)
    rb = rng.integers(0, 1 << wb, size=n, dtype=np.int64)
    got = read_outputs(nl, simulate(nl, pack_operands(ra, rb, wa, wb)), n, signed=signed)
    a = np.where(ra >= 1 << (wa - 1), ra - (1 << wa), ra) if signed else ra
    b = np.where(rb >= 1 << (wb - 1), rb - (1 << wb), rb) if signed else rb
    assert (got == REFS[name](a, b, signed=signed)).all()
    for i in range(5):
        assert g.evaluate(int(ra[i]), int(rb[i])) == got[i]


def _metrics(p: np.ndarray, exact: np.ndarray, full: int) -> tuple[float, float, float]:
    nz = exact != 0
    rel = np.abs(p[nz] - exact[nz]) / np.abs(exact[nz])
    return float(rel.mean()), float(rel.max()), float(np.abs(p - exact).mean() / full)


def test_mitchell_error_matches_paper() -> None:
    # Mitchell (1962): average error 3.8 %, maximum 11.1 % (x1 = x2 = 1/2) for
    # multiplication; it never overestimates.
    g = mitchell_multiplier(8, 8)
    a = _operands(8, False)
    exact = a[:, None] * a[None, :]
    table = _lut(g)
    mred, worst, nmed = _metrics(table, exact, 255 * 255)
    assert mred == pytest.approx(0.038, abs=0.001)
    assert worst == pytest.approx(1 / 9, abs=1e-9)
    assert (table <= exact).all()
    assert nmed == pytest.approx(0.00933, abs=0.0002)


def test_ilm_error_bounds() -> None:
    # Babić et al. (2011): relative error below 25 % for the basic block and below
    # 6.25 % = 4**-2 with one correction; more corrections converge to exact.
    a = _operands(8, False)
    exact = a[:, None] * a[None, :]
    prev = 1.0
    for c, bound in ((0, 0.25), (1, 0.0625), (2, 0.015625)):
        p = ilm_reference(a[:, None], a[None, :], corrections=c)
        mred, worst, _ = _metrics(p, exact, 255 * 255)
        assert worst < bound and (p <= exact).all()
        assert mred < prev
        prev = mred
    table = _lut(ilm_multiplier(8, 8))
    mred, worst, _ = _metrics(table, exact, 255 * 255)
    assert mred == pytest.approx(0.0083, abs=0.0005) and worst < 0.0625
    # ILM with one correction is far more accurate than Mitchell
    assert mred < _metrics(_lut(mitchell_multiplier(8, 8)), exact, 255 * 255)[0] / 4


def test_signed_is_sign_magnitude() -> None:
    g = generate("mitchell", 6, 6, signed=True)
    t = _lut(g)
    a = _operands(6, True)
    idx = {int(v): i for i, v in enumerate(a)}
    for x in (3, 7, 13, 31):
        for y in (5, 9, 30):
            assert t[idx[-x], idx[y]] == -t[idx[x], idx[y]] == t[idx[x], idx[-y]]
    assert t[idx[-32], idx[-32]] == 1024  # -2**5 * -2**5 is exact


def test_specs_and_errors() -> None:
    g = from_spec("mitchell:8x6")
    assert (g.width_a, g.width_b, g.signed) == (8, 6, False)
    assert from_spec("ilm:5,signed").signed
    assert ilm_multiplier(6, 6, corrections=2).info["corrections"] == 2
    with pytest.raises(ConfigError, match="width_a"):
        mitchell_multiplier(1, 8)
    with pytest.raises(ConfigError, match="width_b"):
        ilm_multiplier(8, 17)
    with pytest.raises(ConfigError, match="corrections"):
        ilm_multiplier(8, 8, corrections=4)
    with pytest.raises(ConfigError, match="partial-product"):
        from_spec("mitchell:8,truncate=3")
