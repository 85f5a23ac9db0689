"""The netlist builder's fast paths agree with its reference paths."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.arith import CELL_TYPES, apply_knobs, generate, lower
from dse.netlist import ARITY, Netlist, NetlistBuilder, Op

# private: the compiled lowering is compared with the Python one
from dse.netlist import _kernels as netlist_kernels

needs_numba = pytest.mark.skipif(not netlist_kernels.HAVE_NUMBA, reason="numba is not installed")


def _same(a: Netlist, b: Netlist) -> None:
    assert a.to_text() == b.to_text()
    assert a.ops.dtype == b.ops.dtype and a.fanin.dtype == b.fanin.dtype
    assert np.array_equal(a.fanin, b.fanin)
    assert a.output_ports == b.output_ports and a.groups == b.groups
    assert dict(a.net_names) == dict(b.net_names)


def _graphs(n: int, seed: int) -> list:
    rng = random.Random(seed)
    approx = sorted(k for k, ct in CELL_TYPES.items() if ct.family == "fa" and not ct.exact)
    out = []
    for _ in range(n):
        g = generate(
            rng.choice(["dadda", "wallace", "array"]),
            rng.choice([4, 6, 8]),
            adder=rng.choice(["ripple", "kogge-stone"]),
            signed=rng.random() < 0.3,
        )
        w = g.width_a
        knobs: dict[str, object] = {"truncate": rng.randint(0, w)}
        if rng.random() < 0.5:
            knobs["prune"] = [(rng.randrange(w), rng.randrange(w)) for _ in range(3)]
        g = apply_knobs(g, knobs)
        fas = [x for x in g.nodes_of(role="tree") if g[x].kind == "fa"]
        if fas and approx:
            g = apply_knobs(g, {"approx": [f"{x}:{rng.choice(approx)}" for x in fas[:2]]})
        cells = [x for x in g.nodes_of(role="tree") if g[x].kind in ("fa", "ha")]
        if cells:
            g = apply_knobs(g, {"zero": [f"{rng.choice(cells)}.cout"]})
        out.append(g)
    return out


@needs_numba
@pytest.mark.parametrize("net_names", [False, True])
def test_compiled_build_matches_reference(monkeypatch: pytest.MonkeyPatch, net_names: bool) -> None:
    for graph in _graphs(30, seed=1):
        fast = lower(graph, net_names=net_names)
        with monkeypatch.context() as mp:
            mp.setattr(NetlistBuilder, "build", NetlistBuilder._build_reference)
            ref = lower(graph, net_names=net_names)
        _same(fast, ref)


_OPS = [op for op in Op if op not in (Op.CONST0, Op.CONST1)]
_SYM = [Op.AND, Op.OR, Op.XOR, Op.XOR3, Op.MAJ, Op.AND3, Op.NAND]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(_OPS),
            st.sampled_from([(Op.XOR3, Op.MAJ), (Op.XOR, Op.AND), (Op.AND,), tuple(_SYM[:3])]),
            st.lists(st.integers(0, 1000), min_size=4, max_size=4),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_gates_over_equals_gate_calls(steps: list) -> None:
    """Random gate sequences (constants included) through ``gates_over`` and through
    plain ``gate`` calls build the same netlist, with the same groups."""
    fast = NetlistBuilder("m", [("a", 3), ("b", 3)])
    slow = NetlistBuilder("m", [("a", 3), ("b", 3)])
    outs: list[int] = []
    for single, op, group_ops, picks in steps:
        pool = [*range(6), fast.const0, fast.const1, *outs]
        if single:
            ins = [pool[p % len(pool)] for p in picks[: ARITY[op]]]
            a, b = fast.gate(op, *ins), slow.gate(op, *ins)
            assert a == b
            outs.append(a)
            continue
        arity = ARITY[group_ops[0]]
        ins = [pool[p % len(pool)] for p in picks[:arity]]
        if any(ARITY[o] != arity for o in group_ops):
            continue
        got = fast.gates_over([int(o) for o in group_ops], ins)
        want = tuple(slow.gate(o, *ins) for o in group_ops)
        assert got == want
        outs.extend(got)
        if len(got) == 2:
            fast.group("FA", got)
            slow.group("FA", want)
    ports = [("p", outs[-8:] or [fast.const0])]
    _same(fast.build(ports), slow.build(ports))


def test_inlined_same_fanin_lowering_matches_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    # private: the compiled lowering is compared with the Python one
    import dse.arith._cells as cells

    for graph in _graphs(30, seed=2):
        fast = lower(graph, net_names=True)
        with monkeypatch.context() as mp:
            mp.setattr(cells, "SAME_FANIN", {})
            ref = lower(graph, net_names=True)
        _same(fast, ref)


def test_truth_table_matches_bit_eval() -> None:
    # private: the compiled lowering is compared with the Python one
    from dse.netlist._netlist import _TRUTH, _bit_eval

    for op in Op:
        for m in range(1 << ARITY[op]):
            bits = [(m >> k) & 1 for k in range(ARITY[op])]
            assert _TRUTH[op][m] == _bit_eval(op, bits)


def _more_graphs(n: int, seed: int) -> list:
    """Graphs that exercise every template: Booth, 4:2 trees, log multipliers, every
    approximate cell, tied-off outputs (folding) and signed constants."""
    # private: the compiled lowering is compared with the Python one
    from dse.arith._catalogue import APPROXIMATE_CELLS

    rng = random.Random(seed)
    out = _graphs(n, seed)
    for _ in range(n):
        gen = rng.choice(["booth", "c42tree", "dadda", "array"])
        w = rng.choice([4, 6, 8])
        g = generate(gen, w, signed=rng.random() < 0.5)
        cells = [x for x in g.nodes_of(role="tree")]
        if cells:
            for x in rng.sample(cells, min(3, len(cells))):
                fam = g[x].kind if g[x].kind in ("fa", "ha", "c42") else None
                alts = [k for k, c in APPROXIMATE_CELLS.items() if c.family == fam]
                if alts and rng.random() < 0.7:
                    g = apply_knobs(g, {"approx": [f"{x}:{rng.choice(alts)}"]})
            x = rng.choice(cells)
            ports = CELL_TYPES[g[x].kind].outputs
            g = apply_knobs(g, {"zero": [f"{x}.{rng.choice(ports)}"]})
        out.append(g)
    return out


@needs_numba
def test_compiled_lowering_matches_python() -> None:
    # private: the compiled lowering is compared with the Python one
    from dse.arith._lower import _lower_compiled, _lower_python

    graphs = _more_graphs(40, seed=3)
    graphs += [
        generate(kind, w, signed=s)
        for kind in ("mitchell", "ilm")
        for w in (4, 8)
        for s in (False, True)
    ]
    for graph in graphs:
        fast = _lower_compiled(graph, "mul")
        assert fast is not None, graph
        _same(fast, _lower_python(graph, "mul", net_names=False))
