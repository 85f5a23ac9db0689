"""The approximate-cell catalogue and the 4:2-compressor tree generator."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from dse.arith import CELL_TYPES, from_spec, generate, lower, replace_cell

# private: each catalogue cell's definition is checked on its own
from dse.arith._c42tree import c42_tree

# private: each catalogue cell's definition is checked on its own
from dse.arith._catalogue import (
    APPROXIMATE_CELLS,
    PUBLISHED_ERRORS,
    approximate_kinds,
    cell_gate_count,
    error_profile,
)
from dse.errors import ConfigError
from dse.eval import exhaustive_input_words, read_outputs, simulate
from dse.netlist import NetlistBuilder


def _lut(graph):  # type: ignore[no-untyped-def]
    nl = lower(graph)
    wa, wb = graph.width_a, graph.width_b
    vals = simulate(nl, exhaustive_input_words(wa, wb))
    return read_outputs(nl, vals, 1 << (wa + wb), signed=graph.signed).reshape(1 << wa, 1 << wb)


def _operands(width: int, signed: bool) -> np.ndarray:
    v = np.arange(1 << width, dtype=np.int64)
    return np.where(v >= 1 << (width - 1), v - (1 << width), v) if signed else v


def test_catalogue_size_and_metadata() -> None:
    assert len(APPROXIMATE_CELLS) >= 8
    for name, cell in APPROXIMATE_CELLS.items():
        assert CELL_TYPES[name] is cell
        assert cell.compressor and not cell.exact
        assert cell.family in ("fa", "ha", "c42")
        assert cell.citation
        exact = CELL_TYPES[cell.family]
        # Ports are a subset of the exact cell's, so replace_cell maps them by name.
        assert set(cell.inputs) <= set(exact.inputs)
        assert set(cell.outputs) <= set(exact.outputs)
        for port, off in zip(cell.outputs, cell.offsets, strict=True):
            assert off == exact.offsets[exact.outputs.index(port)]


def test_approximate_kinds() -> None:
    assert approximate_kinds("fa") == ["ama1", "ama2", "ama3", "ama4", "ama5", "axa2", "axa3"]
    assert approximate_kinds("c42") == ["momeni_d1", "momeni_d2"]
    assert approximate_kinds("ha") == ["loa_or"]
    with pytest.raises(ConfigError, match="family must be one of"):
        approximate_kinds("booth")


@pytest.mark.parametrize("kind", sorted(APPROXIMATE_CELLS))
def test_lowering_matches_function(kind: str) -> None:
    cell = APPROXIMATE_CELLS[kind]
    n = len(cell.inputs)
    bld = NetlistBuilder(kind, [("x", n)])
    outs = cell.lower(bld, bld.input("x"))
    nl = bld.build([("y", list(outs))])
    vals = simulate(nl, exhaustive_input_words(n, 0))
    got = read_outputs(nl, vals, 1 << n, signed=False)
    for idx in range(1 << n):
        word = [(idx >> r) & 1 for r in range(n)]  # vector index bit r = input r
        want = cell.function(word)
        assert got[idx] == sum(int(v) << k for k, v in enumerate(want)), (kind, word)


@pytest.mark.parametrize("kind", sorted(PUBLISHED_ERRORS))
def test_error_profile_matches_paper(kind: str) -> None:
    n_err, total, distances = PUBLISHED_ERRORS[kind]
    cell = APPROXIMATE_CELLS[kind]
    assert 1 << len(cell.inputs) == total
    diffs = []
    for bits in product((0, 1), repeat=len(cell.inputs)):
        outs = cell.function(list(bits))
        value = sum(int(o) << int(off or 0) for o, off in zip(outs, cell.offsets, strict=True))
        if value != sum(bits):
            diffs.append(value - sum(bits))
    assert len(diffs) == n_err
    assert tuple(sorted(diffs)) == distances
    prof = error_profile(kind)
    assert prof["er"] == pytest.approx(n_err / total)
    assert prof["mean_error"] == pytest.approx(sum(distances) / total)


def test_known_truth_tables() -> None:
    # Gupta et al. 2013: approximation 5 is Sum = B, Cout = A; approximation 2 is
    # Sum = not Cout with the exact carry.
    for a, b, c in product((0, 1), repeat=3):
        assert tuple(CELL_TYPES["ama5"].function([a, b, c])) == (b, a)
        maj = (a & b) | (a & c) | (b & c)
        assert tuple(CELL_TYPES["ama2"].function([a, b, c])) == (1 - maj, maj)
        assert tuple(CELL_TYPES["axa2"].function([a, b, c])) == (1 - (a ^ b), maj)
    # Momeni Design 2 outputs 1 for all-zero inputs (its noted limitation) and is
    # exact for a single 1.
    assert tuple(CELL_TYPES["momeni_d2"].function([0, 0, 0, 0])) == (1, 0)
    for k in range(4):
        bits = [int(i == k) for i in range(4)]
        assert tuple(CELL_TYPES["momeni_d2"].function(bits)) == (1, 0)
    prof = error_profile("momeni_d1")
    assert prof["er"] == pytest.approx(0.5) and prof["max_ed"] == 2


def test_gate_counts_are_small() -> None:
    for kind in APPROXIMATE_CELLS:
        assert 0 <= cell_gate_count(kind) <= 7
    assert cell_gate_count("ama5") == 0  # wires only
    assert cell_gate_count("fa") == 2


@pytest.mark.parametrize("kind", approximate_kinds("fa"))
def test_fa_swap_in_dadda_keeps_netlist_equal_reference(kind: str) -> None:
    g = from_spec("dadda:6")
    fas = g.nodes_of(kind="fa")
    assert len(fas) >= 4
    for node in fas[::3]:
        g = replace_cell(g, node, kind)
    g.validate()
    assert (_lut(g) == g.reference_table()).all()


def test_loa_swap_in_dadda_keeps_netlist_equal_reference() -> None:
    g = from_spec("dadda:5x4")
    for node in g.nodes_of(kind="ha"):
        g = replace_cell(g, node, "loa_or")
    g.validate()
    assert (_lut(g) == g.reference_table()).all()


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("adder", ["ripple", "kogge-stone"])
@pytest.mark.parametrize("widths", [(2, 2), (3, 5), (4, 4), (5, 3), (6, 6), (7, 5), (8, 8)])
def test_c42tree_exact(widths: tuple[int, int], adder: str, signed: bool) -> None:
    wa, wb = widths
    g = generate("c42tree", wa, wb, signed=signed, adder=adder).validate()
    assert g.info["generator"] == "c42tree" and g.info["spec"] is None
    want = np.outer(_operands(wa, signed), _operands(wb, signed))
    assert (_lut(g) == want).all()
    if wa * wb >= 16:
        assert g.summary().get("c42", 0) > 0


def test_c42tree_spec_and_errors() -> None:
    g = from_spec("c42tree:6x5")
    assert (g.width_a, g.width_b) == (6, 5)
    with pytest.raises(ConfigError, match="width_a"):
        c42_tree(1, 4)
    with pytest.raises(ConfigError, match="adder"):
        c42_tree(4, 4, adder="carry-save")
    with pytest.raises(ConfigError, match="partial-product"):
        from_spec("c42tree:6,truncate=2")


@pytest.mark.parametrize("kind", approximate_kinds("c42"))
@pytest.mark.parametrize("signed", [False, True])
def test_c42_swap_in_c42tree_keeps_netlist_equal_reference(kind: str, signed: bool) -> None:
    g = generate("c42tree", 6, 6, signed=signed)
    nodes = g.nodes_of(kind="c42")
    assert nodes
    for node in nodes[: max(1, len(nodes) // 2)]:
        g = replace_cell(g, node, kind)
    g.validate()
    table = _lut(g)
    assert (table == g.reference_table()).all()
    exact = np.outer(_operands(6, signed), _operands(6, signed))
    assert (table != exact).any()  # the approximation shows
