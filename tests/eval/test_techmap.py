"""The technology mapper: cells found by function, whatever gates a netlist uses.

Each test builds the same small circuit in several gate-level styles (dse's lowering,
2-input gates as ArithsGen writes them, NAND-only, sums of products) and checks that
the mapper finds the same library cells, and that every cover computes its netlist.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest

from dse.errors import DataError
from dse.eval import CellLibrary, exhaustive_input_words, map_to_cells, simulate

# private: the mapper's matching tables are checked on their own
from dse.eval._library import ROLES

# private: the mapper's matching tables are checked on their own
from dse.eval._power import CellMapping

# private: the mapper's matching tables are checked on their own
from dse.eval._techmap import supergates
from dse.netlist import Netlist, NetlistBuilder, Op


@pytest.fixture(scope="module")
def library() -> CellLibrary:
    return CellLibrary.default()


def build(n_in: int, body: object, *, groups: bool = False) -> Netlist:
    """A netlist over one input port of ``n_in`` bits; ``body(b, x)`` returns the output
    nets. Gates are added raw (no folding, no sharing) so the style stays as written."""
    b = NetlistBuilder("t", [("x", n_in)])
    x = b.input("x")
    outs = body(b, x)  # type: ignore[operator]
    nl = b.build([("p", tuple(outs))])
    if not groups:
        nl = Netlist(nl.name, nl.input_ports, nl.output_ports, nl.ops, nl.fanin)
    return nl


def raw(b: NetlistBuilder, op: Op, *ins: int) -> int:
    return b._raw(op, tuple(ins))


def cover_outputs(nl: Netlist, m: CellMapping) -> np.ndarray:
    """Evaluate the mapped cells (in driver order) on every input vector."""
    n = nl.n_inputs
    words = exhaustive_input_words(n, 0)
    vals = simulate(nl, words)
    lib = m.library
    out = np.zeros((m.n_nets, words.shape[1]), dtype=np.uint64)
    out[:n] = vals[:n]
    ones = ~np.uint64(0)
    for net in range(n, nl.n_nets):  # constants (by function, too) are tie-offs
        if (vals[net] == ones).all():
            out[net] = ones
    ro_of = {v: k for k, v in lib.ro_index.items()}
    for d in m.drv_order.tolist():
        role, k = ro_of[int(m.drv_ro[d])]
        ins = [out[int(f)] for f in m.inst_in[int(m.drv_inst[d])] if f >= 0]
        out[int(m.drv_net[d])] = ROLES[role].function(ins)[k]
    return out[m.port_nets]


def check(nl: Netlist, library: CellLibrary) -> CellMapping:
    m = map_to_cells(nl, library)
    vals = simulate(nl, exhaustive_input_words(nl.n_inputs, 0))
    ports = [n for _, nets in nl.output_ports for n in nets]
    np.testing.assert_array_equal(cover_outputs(nl, m), vals[ports])
    return m


# ----------------------------------------------------------------------------------------
# full and half adders in every style


def fa_xor3_maj(b: NetlistBuilder, x: Sequence[int]) -> list[int]:
    return [raw(b, Op.XOR3, *x[:3]), raw(b, Op.MAJ, *x[:3])]


def fa_arithsgen(b: NetlistBuilder, x: Sequence[int]) -> list[int]:
    """Two half adders and an OR, as ArithsGen writes a full adder."""
    p = raw(b, Op.XOR, x[0], x[1])
    g = raw(b, Op.AND, x[0], x[1])
    s = raw(b, Op.XOR, p, x[2])
    t = raw(b, Op.AND, p, x[2])
    return [s, raw(b, Op.OR, g, t)]


def fa_nand(b: NetlistBuilder, x: Sequence[int]) -> list[int]:
    """The nine-NAND full adder."""
    a, bb, c = x[:3]
    n1 = raw(b, Op.NAND, a, bb)
    n2 = raw(b, Op.NAND, a, n1)
    n3 = raw(b, Op.NAND, bb, n1)
    h = raw(b, Op.NAND, n2, n3)  # a ^ b
    n5 = raw(b, Op.NAND, h, c)
    n6 = raw(b, Op.NAND, h, n5)
    n7 = raw(b, Op.NAND, c, n5)
    s = raw(b, Op.NAND, n6, n7)
    return [s, raw(b, Op.NAND, n5, n1)]


def fa_sop(b: NetlistBuilder, x: Sequence[int]) -> list[int]:
    """Sum and carry as sums of products over the inputs and their complements."""
    lits = [(raw(b, Op.INV, v), v) for v in x[:3]]

    def minterm(m: int) -> int:
        t = raw(b, Op.AND, lits[0][m & 1], lits[1][(m >> 1) & 1])
        return raw(b, Op.AND, t, lits[2][(m >> 2) & 1])

    def sop(ms: Sequence[int]) -> int:
        acc = minterm(ms[0])
        for m in ms[1:]:
            acc = raw(b, Op.OR, acc, minterm(m))
        return acc

    return [sop([1, 2, 4, 7]), sop([3, 5, 6, 7])]


def fa_inverted(b: NetlistBuilder, x: Sequence[int]) -> list[int]:
    """Complemented outputs (XNOR3 and not-majority), as some libraries' cells are."""
    s = raw(b, Op.XNOR, raw(b, Op.XOR, x[0], x[1]), x[2])
    c = raw(b, Op.AOI22, x[0], x[1], raw(b, Op.OR, x[0], x[1]), x[2])
    return [s, c]


FA_STYLES = {
    "xor3+maj": fa_xor3_maj,
    "arithsgen": fa_arithsgen,
    "nand9": fa_nand,
    "sop": fa_sop,
    "inverted outputs": fa_inverted,
}


@pytest.mark.parametrize("style", sorted(FA_STYLES))
def test_full_adder_found_in_every_style(library: CellLibrary, style: str) -> None:
    nl = build(3, FA_STYLES[style])
    m = check(nl, library)
    assert m.cells.get("FA_X1") == 1, m.cells
    extra = {c: k for c, k in m.cells.items() if c != "FA_X1"}
    # complemented outputs cost an inverter each; nothing else is left over
    assert extra == ({"INV_X1": 2} if style == "inverted outputs" else {}), m.cells


@pytest.mark.parametrize(
    "style",
    [
        lambda b, x: [raw(b, Op.XOR, x[0], x[1]), raw(b, Op.AND, x[0], x[1])],
        lambda b, x: [
            raw(b, Op.INV, raw(b, Op.XNOR, x[0], x[1])),
            raw(b, Op.INV, raw(b, Op.NAND, x[0], x[1])),
        ],
        lambda b, x: [
            raw(
                b,
                Op.OR,
                raw(b, Op.AND, x[0], raw(b, Op.INV, x[1])),
                raw(b, Op.AND, raw(b, Op.INV, x[0]), x[1]),
            ),
            raw(b, Op.NOR, raw(b, Op.INV, x[0]), raw(b, Op.INV, x[1])),
        ],
    ],
    ids=["xor+and", "through inverters", "sop"],
)
def test_half_adder_found_in_every_style(library: CellLibrary, style: object) -> None:
    m = check(build(2, style), library)
    assert m.cells == {"HA_X1": 1}


def test_group_markers_do_not_change_the_mapping(library: CellLibrary) -> None:
    from dse.arith import from_spec, lower

    for spec in ["dadda:8", "booth:6,signed", "array:6,bam=2:4"]:
        with_groups = lower(from_spec(spec))
        assert with_groups.groups
        bare = Netlist(
            with_groups.name,
            with_groups.input_ports,
            with_groups.output_ports,
            with_groups.ops,
            with_groups.fanin,
        )
        a, b = map_to_cells(with_groups, library), map_to_cells(bare, library)
        assert a.cells == b.cells and a.area_um2 == b.area_um2
        assert np.array_equal(a.inst_in, b.inst_in)


# ----------------------------------------------------------------------------------------
# single-output cells: inverters absorbed, complex gates found


@pytest.mark.parametrize(
    ("body", "cells"),
    [
        (lambda b, x: [raw(b, Op.INV, raw(b, Op.AND, x[0], x[1]))], {"NAND2_X1": 1}),
        (lambda b, x: [raw(b, Op.INV, raw(b, Op.XOR, x[0], x[1]))], {"XNOR2_X1": 1}),
        (
            lambda b, x: [raw(b, Op.NOR, raw(b, Op.AND, x[0], x[1]), raw(b, Op.AND, x[2], x[3]))],
            {"AOI22_X1": 1},
        ),
        (
            lambda b, x: [raw(b, Op.INV, raw(b, Op.OR, raw(b, Op.AND, x[0], x[1]), x[2]))],
            {"AOI21_X1": 1},
        ),
        (
            lambda b, x: [
                raw(
                    b, Op.OR, raw(b, Op.AND, x[0], raw(b, Op.INV, x[2])), raw(b, Op.AND, x[1], x[2])
                )
            ],
            {"MUX2_X1": 1},
        ),
        (lambda b, x: [raw(b, Op.AND, raw(b, Op.AND, x[0], x[1]), x[2])], {"AND3_X1": 1}),
        (lambda b, x: [raw(b, Op.INV, raw(b, Op.INV, x[0]))], {}),  # a wire
    ],
    ids=["nand", "xnor", "aoi22", "aoi21", "mux", "and3", "double inversion"],
)
def test_single_output_cells(library: CellLibrary, body: object, cells: dict[str, int]) -> None:
    m = check(build(4, body), library)
    assert m.cells == cells


def test_every_op_alone_maps_and_computes(library: CellLibrary) -> None:
    for op in Op:
        if op in (Op.CONST0, Op.CONST1, Op.BUF):
            continue
        from dse.netlist import ARITY

        m = check(build(4, lambda b, x, op=op: [raw(b, op, *x[: ARITY[op]])]), library)
        assert m.n_instances >= 1


def test_every_gate_has_a_match_whatever_its_inputs(library: CellLibrary) -> None:
    # a gate's own inputs are always a cut: its function must have an implementation
    # for every way the inputs may repeat (after the leaves it ignores are dropped)
    from dse.netlist import ARITY

    # private: the mapper's matching tables are checked on their own
    from dse.netlist._netlist import _bit_eval

    sg = supergates(library)
    for op in Op:
        n = ARITY[op]
        if n == 0 or op is Op.BUF:
            continue
        for assign in itertools.product(range(4), repeat=n):
            tt = 0
            for m in range(16):
                tt |= _bit_eval(op, [(m >> v) & 1 for v in assign]) << m
            support = [k for k in range(4) if (int(sg.support[tt]) >> k) & 1]
            # the table over the support, compacted to variables 0..
            small = 0
            for m in range(16):
                full = sum(((m >> j) & 1) << v for j, v in enumerate(support))
                small |= ((tt >> full) & 1) << m
            if small in (0, 0xFFFF, 0xAAAA):
                continue  # a constant or a wire
            assert sg.match[small] >= 0, (op.name, assign, hex(small))


def test_a_library_without_the_cells_a_gate_needs_is_named() -> None:
    lib = CellLibrary.default()
    roles = {r: v for r, v in lib.table["roles"].items() if r not in ("XOR2", "XNOR2")}
    no_xor = CellLibrary.from_table({**lib.table, "roles": roles})
    nl = build(2, lambda b, x: [raw(b, Op.XOR, x[0], x[1])])
    with pytest.raises(DataError, match=r"can implement no cover of gate 0 \(XOR\)"):
        map_to_cells(nl, no_xor)


def test_without_fa_and_ha_cells_adders_use_gates() -> None:
    lib = CellLibrary.default()
    table = {
        **lib.table,
        "roles": {r: v for r, v in lib.table["roles"].items() if r not in ("FA", "HA")},
    }
    small = CellLibrary.from_table(table)
    for style in FA_STYLES.values():
        m = check(build(3, style), small)
        assert "FA_X1" not in m.cells and m.n_instances >= 3


@pytest.mark.parametrize(("n", "gates"), [(2, 25), (3, 25), (6, 120)])
def test_random_netlists_map_correctly(library: CellLibrary, n: int, gates: int) -> None:
    # the wide case has gates whose inputs have many small cuts of their own (as an
    # ABC-mapped netlist of AOI/OAI cells does): the gate's own inputs must stay a cut
    rng = np.random.default_rng(n)
    ops = [o for o in Op if o not in (Op.CONST0, Op.CONST1)]
    from dse.netlist import ARITY

    for _ in range(40):

        def body(b: NetlistBuilder, x: Sequence[int]) -> list[int]:
            nets = list(x)
            for _ in range(int(rng.integers(3, gates))):
                op = ops[int(rng.integers(len(ops)))]
                ins = [nets[int(rng.integers(len(nets)))] for _ in range(ARITY[op])]
                nets.append(raw(b, op, *ins))
            return nets[-min(3, len(nets) - len(x)) :]

        check(build(n + 2, body), library)


def test_same_function_same_area_across_styles(library: CellLibrary) -> None:
    # a 2-bit ripple adder in the styles above: one area whatever the style
    areas = set()
    for style in FA_STYLES.values():

        def body(b: NetlistBuilder, x: Sequence[int], style: object = style) -> list[int]:
            s0, c0 = style(b, [x[0], x[2], x[4]])  # type: ignore[operator]
            s1, c1 = style(b, [x[1], x[3], c0])  # type: ignore[operator]
            return [s0, s1, c1]

        m = check(build(5, body), library)
        if m.cells.get("INV_X1", 0) == 0:
            areas.add(round(m.area_um2, 6))
    assert len(areas) == 1, areas


def test_all_pin_permutations_of_a_full_adder(library: CellLibrary) -> None:
    for perm in itertools.permutations(range(3)):
        m = check(build(3, lambda b, x, p=perm: fa_arithsgen(b, [x[i] for i in p])), library)
        assert m.cells == {"FA_X1": 1}
