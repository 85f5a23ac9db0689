"""Peer check against ArithsGen (PyPI ``ariths-gen``): its 8×8 multipliers, written as
flat and hierarchical Verilog, read back with :func:`read_verilog`.

Exact designs must give the exact product; approximate ones (broken-array, truncated)
must match dse's generator with the same knobs. Run with ``-s`` to print the
gate-count table reproduced in ``docs/netlist-io.md``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np
import pytest

from dse.arith import from_spec, lower
from dse.eval import exhaustive_input_words, read_outputs, simulate
from dse.netlist import Netlist, Op, read_verilog_text

ag = pytest.importorskip("ariths_gen")
from ariths_gen.multi_bit_circuits.approximate_multipliers import (  # noqa: E402
    UnsignedBrokenArrayMultiplier,
    UnsignedTruncatedArrayMultiplier,
)
from ariths_gen.multi_bit_circuits.multipliers import (  # noqa: E402
    UnsignedArrayMultiplier,
    UnsignedDaddaMultiplier,
    UnsignedWallaceMultiplier,
)
from ariths_gen.wire_components import Bus  # noqa: E402

N = 8
EXACT = np.outer(np.arange(1 << N), np.arange(1 << N))

# 2-input-gate equivalents, to compare dse's richer gates with ArithsGen's 2-input ones
# (a full adder: XOR3 + MAJ in dse, 2 XOR + 2 AND + 1 OR in ArithsGen, 5 either way).
_EQUIV = {
    Op.AND3: 2, Op.OR3: 2, Op.NAND3: 2, Op.NOR3: 2, Op.XOR3: 2, Op.XNOR3: 2,
    Op.MAJ: 3, Op.MUX: 3, Op.AOI21: 2, Op.OAI21: 2, Op.AOI22: 3, Op.OAI22: 3,
}  # fmt: skip


def equiv2(nl: Netlist) -> int:
    total = 0
    for o in nl.ops.tolist():
        op = Op(o)
        if op in (Op.CONST0, Op.CONST1, Op.BUF):
            continue
        total += _EQUIV.get(op, 1)
    return total


def lut(nl: Netlist) -> np.ndarray:
    vals = simulate(nl, exhaustive_input_words(N, N))
    return read_outputs(nl, vals, 1 << (2 * N), signed=False).reshape(1 << N, 1 << N)


def verilog(make: Callable[..., object], name: str, *, hier: bool = False, **kw: int) -> str:
    circuit = make(Bus("a", N), Bus("b", N), name=name, **kw)
    f = io.StringIO()
    (circuit.get_v_code_hier if hier else circuit.get_v_code_flat)(f)  # type: ignore[attr-defined]
    return f.getvalue()


def tm_prune(k: int) -> str:
    """dse spec of ArithsGen's truncated array multiplier: pp a_i b_j gone iff i < k or j < k."""
    cut = [f"{i}:{j}" for i in range(N) for j in range(N) if i < k or j < k]
    return f"array:{N},prune=" + ";".join(cut)


# (label, ArithsGen class, kwargs, dse spec, exact?)
CASES: list[tuple[str, Callable[..., object], dict[str, int], str, bool]] = [
    ("array", UnsignedArrayMultiplier, {}, "array:8", True),
    ("dadda", UnsignedDaddaMultiplier, {}, "dadda:8", True),
    ("wallace", UnsignedWallaceMultiplier, {}, "wallace:8", True),
    (
        "bam h=1 v=3",
        UnsignedBrokenArrayMultiplier,
        {"horizontal_cut": 1, "vertical_cut": 3},
        "array:8,bam=1:3",
        False,
    ),
    (
        "bam h=2 v=6",
        UnsignedBrokenArrayMultiplier,
        {"horizontal_cut": 2, "vertical_cut": 6},
        "array:8,bam=2:6",
        False,
    ),
    (
        "bam h=3 v=8",
        UnsignedBrokenArrayMultiplier,
        {"horizontal_cut": 3, "vertical_cut": 8},
        "array:8,bam=3:8",
        False,
    ),
    (
        "bam h=4 v=4",
        UnsignedBrokenArrayMultiplier,
        {"horizontal_cut": 4, "vertical_cut": 4},
        "array:8,bam=4:4",
        False,
    ),
    ("truncated k=2", UnsignedTruncatedArrayMultiplier, {"truncation_cut": 2}, tm_prune(2), False),
    ("truncated k=4", UnsignedTruncatedArrayMultiplier, {"truncation_cut": 4}, tm_prune(4), False),
]


@pytest.mark.parametrize(
    ("label", "make", "kw", "spec", "is_exact"), CASES, ids=[c[0] for c in CASES]
)
@pytest.mark.parametrize("hier", [False, True], ids=["flat", "hier"])
def test_arithsgen_lut(
    label: str,
    make: Callable[..., object],
    kw: dict[str, int],
    spec: str,
    is_exact: bool,
    hier: bool,
) -> None:
    theirs = read_verilog_text(verilog(make, "u_ag8", hier=hier, **kw), filename=f"{label}.v")
    assert theirs.input_ports == (("a", N), ("b", N))
    got = lut(theirs)
    ours = lut(lower(from_spec(spec)))
    if is_exact:
        np.testing.assert_array_equal(got, EXACT)
    np.testing.assert_array_equal(got, ours)


def test_arithsgen_gate_count_table() -> None:
    rows = []
    read_verilog_text(verilog(CASES[0][1], "u_ag8"), filename="warm-up.v")  # untimed
    for label, make, kw, spec, _ in CASES:
        text = verilog(make, "u_ag8", **kw)
        t0 = time.perf_counter()
        theirs = read_verilog_text(text, filename=f"{label}.v")
        ms = (time.perf_counter() - t0) * 1e3
        ours = lower(from_spec(spec))
        mae = float(np.abs(lut(theirs) - EXACT).mean())
        # the file's own gate count (dse's reader may fold and share some of them)
        in_file = len(make(Bus("a", N), Bus("b", N), name="u_ag8", **kw).get_circuit_gates())
        rows.append((label, in_file, equiv2(theirs), ours.gate_count, equiv2(ours), mae, ms))
    print()
    print(
        "| design | ArithsGen gates (file) | ArithsGen 2-in eq. (read) | dse gates | dse 2-in eq. "
        "| MAE | read ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, g1, e1, g2, e2, mae, ms in rows:
        print(f"| {label} | {g1} | {e1} | {g2} | {e2} | {mae:.2f} | {ms:.1f} |")
    # same architecture, same knobs: sizes within 10 % in 2-input gate equivalents
    for label, _, e1, _, e2, _, _ in rows:
        assert e2 <= 1.1 * e1, label


# ---------------------------------------------------------------------------------------
# costing: an imported netlist costs what dse's generator of the same structure costs


@pytest.mark.parametrize(
    ("label", "make", "spec"),
    [
        ("array", UnsignedArrayMultiplier, "array:8"),
        ("dadda", UnsignedDaddaMultiplier, "dadda:8"),
        ("wallace", UnsignedWallaceMultiplier, "wallace:8"),
    ],
)
def test_arithsgen_costs_like_the_same_structure(
    label: str, make: Callable[..., object], spec: str
) -> None:
    """ArithsGen writes a full adder as two half adders and an OR, dse as XOR3 + MAJ; the
    mapper finds the same FA_X1/HA_X1 cells in both. Dadda and Wallace are built with a
    ripple-carry final adder, as dse's generator (ArithsGen's default is a carry-lookahead
    adder, another structure)."""
    from ariths_gen.multi_bit_circuits.adders import UnsignedRippleCarryAdder

    from dse.design import evaluate
    from dse.eval import evaluate_netlist

    kw = {} if label == "array" else {"unsigned_adder_class_name": UnsignedRippleCarryAdder}
    theirs = evaluate_netlist(
        read_verilog_text(verilog(make, "u_ag8", **kw), filename=f"{label}.v"), signed=False
    )
    ours = evaluate(from_spec(spec))
    np.testing.assert_array_equal(theirs.lut, ours.lut)
    assert theirs.power_uw == pytest.approx(ours.power_uw, rel=0.05)
    assert theirs.area_um2 == pytest.approx(ours.area_um2, rel=0.05)
    full_adders = ours.cells["FA_X1"]
    assert abs(theirs.cells.get("FA_X1", 0) - full_adders) <= 1, (theirs.cells, ours.cells)
