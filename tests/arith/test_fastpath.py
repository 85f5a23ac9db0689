"""Fast paths of the structure IR agree with the plain definitions."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import random
from collections import defaultdict

import pytest

from dse.arith import CELL_TYPES, MultiplierGraph, Node, apply_knobs, cell_type, generate

# private: the fast rebuild is compared with the builder it replaces
from dse.arith._generators import (
    GraphBuilder,
    MultiplierSpec,
    Signal,
    _add_constant,
    _booth_matrix,
    _Matrix,
    _operand_inputs,
    build,
)
from dse.errors import GraphError


def _reference_hash(graph: MultiplierGraph) -> str:
    """The structural hash as first written: no caches, one f-string per node."""
    digests: dict[str, bytes] = {}
    nodes = graph.nodes
    for name in graph.topological_order:
        node = nodes[name]
        if node.role == "input":
            digests[name] = f"in:{node.operand}{node.bit}".encode()
            continue
        ins = [digests[src] + port.encode() for src, port in node.inputs]
        if cell_type(node.kind).symmetric:
            ins.sort()
        head = f"{node.kind}|{node.column}|{','.join(sorted(node.forced))}|".encode()
        digests[name] = hashlib.blake2b(head + b"".join(ins), digest_size=16).digest()
    top = hashlib.blake2b(digest_size=20)
    top.update(f"{graph.width_a}x{graph.width_b}:{int(graph.signed)}".encode())
    outs = sorted((n.bit, name) for name, n in nodes.items() if n.kind == "output")
    for _, name in outs:
        top.update(digests[name])
    return top.hexdigest()


def test_structural_hash_matches_reference() -> None:
    rng = random.Random(0)
    approx = sorted(k for k, ct in CELL_TYPES.items() if ct.family == "fa" and not ct.exact)
    for _ in range(25):
        g = generate(
            rng.choice(["dadda", "wallace", "array", "booth"]),
            rng.choice([4, 6, 8]),
            adder=rng.choice(["ripple", "kogge-stone"]),
            signed=rng.random() < 0.5,
        )
        g = apply_knobs(g, {"truncate": rng.randint(0, 4)})
        fas = [x for x in g.nodes_of(role="tree") if g[x].kind == "fa"]
        if fas and approx:
            g = apply_knobs(g, {"approx": [f"{fas[0]}:{rng.choice(approx)}"]})
        cells = [x for x in g.nodes_of(role="tree") if g[x].kind in ("fa", "ha")]
        if cells:
            g = apply_knobs(g, {"zero": [f"{cells[-1]}.sum", f"{cells[0]}.cout"]})
        assert g.structural_hash == _reference_hash(g)


def test_node_constructor_is_the_dataclass_one() -> None:
    n = Node("fa", (("a", "y"), ("b", "y"), ("c", "y")), 3, role="tree")
    assert n == Node(
        kind="fa",
        inputs=(("a", "y"), ("b", "y"), ("c", "y")),
        column=3,
        forced=frozenset(),
        role="tree",
        operand="",
        bit=-1,
        row=-1,
    )
    assert Node("input") == Node("input", (), None, frozenset(), "logic", "", -1, -1)
    assert [f.name for f in dataclasses.fields(Node)] == list(vars(n))
    m = dataclasses.replace(n, forced=frozenset({"sum"}))
    assert m.forced == {"sum"} and m.inputs == n.inputs and hash(m) != hash(n)
    assert pickle.loads(pickle.dumps(n)) == n and hash(pickle.loads(pickle.dumps(n))) == hash(n)
    try:
        n.kind = "ha"  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:  # pragma: no cover
        raise AssertionError("Node must stay frozen")


def test_topological_order_shortcut_after_cell_knobs() -> None:
    """Graphs made by cell knobs take their order from their parent's; it must be the
    order a fresh check finds, and a real reordering must still be caught."""
    rng = random.Random(1)
    approx = sorted(k for k, ct in CELL_TYPES.items() if ct.family == "fa" and not ct.exact)
    for _ in range(20):
        g = generate(rng.choice(["dadda", "wallace", "array"]), 6, adder="kogge-stone")
        g = apply_knobs(g, {"truncate": rng.randint(0, 4)})
        for _step in range(3):
            fas = [x for x in g.nodes_of(role="tree") if g[x].kind == "fa"]
            cells = [x for x in g.nodes_of(role="tree") if g[x].kind in ("fa", "ha")]
            if rng.random() < 0.5 and fas:
                g = apply_knobs(g, {"approx": [f"{rng.choice(fas)}:{rng.choice(approx)}"]})
            elif cells:
                g = apply_knobs(g, {"zero": [f"{rng.choice(cells)}.cout"]})
            fresh = MultiplierGraph(g.width_a, g.width_b, g.signed, g.nodes, g.info)
            assert g.topological_order == fresh.topological_order
    # a replacement that reads a later node is not taken on trust
    g = generate("array", 4)
    order = g.topological_order
    first_fa = next(n for n in order if g[n].kind == "fa")
    last = order[-1]
    bad = g.replace_nodes({first_fa: dataclasses.replace(g[first_fa], inputs=((last, "y"),) * 3)})
    assert bad._order_parent is None


def test_generated_insertion_order_is_topological() -> None:
    """``build`` marks its graphs' insertion order as topological without checking it;
    the full check agrees on random specs (every encoding, reduction, adder, knob)."""
    from dse.arith import MultiplierSpec, build
    from dse.errors import ConfigError

    rng = random.Random(11)
    built = 0
    for _ in range(400):
        w, m = rng.randint(2, 9), rng.randint(2, 9)
        signed = rng.random() < 0.5
        encoding = rng.choice(["booth", "baugh-wooley" if signed else "unsigned"])
        try:
            spec = MultiplierSpec(
                width_a=w,
                width_b=m,
                signed=signed,
                encoding=encoding,  # type: ignore[arg-type]
                reduction=rng.choice(["array", "wallace", "dadda"]),  # type: ignore[arg-type]
                adder=rng.choice(["ripple", "kogge-stone"]),  # type: ignore[arg-type]
                pruned=frozenset(
                    (rng.randrange(w), rng.randrange(m)) for _ in range(rng.randint(0, 6))
                ),
                truncate=rng.randint(0, w),
                compensate=rng.random() < 0.3,
                bam=(rng.randint(0, 2), rng.randint(0, w)) if rng.random() < 0.3 else (0, 0),
                loa=rng.randint(0, w) if rng.random() < 0.3 else 0,
            )
        except ConfigError:  # e.g. a pruned term outside a Booth grid
            continue
        graph = build(spec)
        assert graph._insertion_is_topological
        fresh = MultiplierGraph(graph.width_a, graph.width_b, graph.signed, graph.nodes)
        assert fresh.topological_order == tuple(graph.nodes) == graph.topological_order
        built += 1
    assert built > 200


# ---------------------------------------------------------------- graph builders
# The reductions, final adder and output loop of ``build`` as first written (one
# ``GraphBuilder.cell`` call per cell, ``list.pop(0)``, ``Node(...)`` per node); the
# fast ones must give the same graphs: names, nodes, insertion order, hash.


def _and_cells_reference(
    n: int, m: int, signed: bool
) -> tuple[tuple[int, int, int, bool, str, str, Node], ...]:
    """Per AND-matrix bit ``a_i b_j`` in generation order: ``(i, j, column, negative,
    name, the const-1 name if pruned, node)``. The same for every build of one shape, and
    nodes are immutable, so rebuilds (every matrix knob) share them."""
    out = []
    for j in range(m):
        for i in range(n):
            col = i + j
            negative = signed and ((i == n - 1) != (j == m - 1))
            kind = "pp_nand" if negative else "pp_and"
            node = Node(kind, ((f"a{i}", "y"), (f"b{j}", "y")), col, role="pp", row=j)
            out.append((i, j, col, negative, f"pp_{i}_{j}", f"one_pp_{i}_{j}", node))
    return tuple(out)


def _and_matrix_reference(gb: GraphBuilder, spec: MultiplierSpec) -> _Matrix:
    mat = _Matrix()
    bits = mat.bits
    nodes = gb.nodes
    keeps = spec.keeps
    for i, j, col, negative, name, one_name, node in _and_cells_reference(
        spec.width_a, spec.width_b, spec.signed
    ):
        if not keeps((i, j), col):
            # Pruned: a_i b_j counts as 0. A Baugh-Wooley term then contributes
            # NAND(0) 2^k - 2^k = 0: its bit becomes a constant 1 in place, so the
            # tree keeps its shape and only simplifies (and the -2^k stays).
            mat.removed_expectation += (-0.25 if negative else 0.25) * (1 << col)
            if negative and col >= spec.truncate:
                gb.add(one_name, Node("const1", (), col, role="const", row=j))
                bits[col].append(((one_name, "y"), j))
                mat.constant -= 1 << col
            continue
        if name in nodes:
            raise GraphError(f"node {name!r} added twice")
        nodes[name] = node
        bits[col].append(((name, "y"), j))
        if negative:
            mat.constant -= 1 << col
    return mat


def _reduce_dadda_reference(gb: GraphBuilder, cols: dict[int, list[Signal]], width_p: int) -> None:
    max_h = max((len(v) for v in cols.values()), default=0)
    targets = [2]
    while targets[-1] < max_h:
        targets.append(targets[-1] * 3 // 2)
    for stage, target in enumerate(reversed(targets[:-1])):
        new: dict[int, list[Signal]] = defaultdict(list)
        carry_in: list[Signal] = []
        for c in range(width_p):
            avail = list(cols.get(c, []))
            h = len(avail) + len(carry_in)
            out: list[Signal] = []
            carries: list[Signal] = []
            while h > target and len(avail) >= 2:
                if h - target >= 2 and len(avail) >= 3:
                    trio = (avail.pop(0), avail.pop(0), avail.pop(0))
                    cell = gb.cell(f"fa_s{stage}_c{c}", "fa", trio, c, "tree")
                    h -= 2
                else:
                    pair = (avail.pop(0), avail.pop(0))
                    cell = gb.cell(f"ha_s{stage}_c{c}", "ha", pair, c, "tree")
                    h -= 1
                out.append((cell, "sum"))
                carries.append((cell, "cout"))
            new[c] = avail + out + carry_in
            carry_in = carries if c + 1 < width_p else []
        cols.clear()
        cols.update(new)


def _reduce_wallace_reference(
    gb: GraphBuilder, cols: dict[int, list[Signal]], width_p: int
) -> None:
    stage = 0
    while any(len(v) > 2 for v in cols.values()):
        new: dict[int, list[Signal]] = defaultdict(list)
        for c in range(width_p):
            avail = list(cols.get(c, []))
            while len(avail) >= 3:
                trio = (avail.pop(0), avail.pop(0), avail.pop(0))
                cell = gb.cell(f"fa_s{stage}_c{c}", "fa", trio, c, "tree")
                new[c].append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "cout"))
            if len(avail) == 2 and len(cols.get(c, [])) > 2:
                pair = (avail.pop(0), avail.pop(0))
                cell = gb.cell(f"ha_s{stage}_c{c}", "ha", pair, c, "tree")
                new[c].append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "cout"))
            new[c].extend(avail)
        cols.clear()
        cols.update(new)
        stage += 1


def _reduce_array_reference(
    gb: GraphBuilder, bits: dict[int, list[tuple[Signal, int]]], width_p: int
) -> dict[int, list[Signal]]:
    """Carry-save array: add the rows one after another, carries to the next row."""
    rows: dict[int, dict[int, list[Signal]]] = defaultdict(lambda: defaultdict(list))
    for col, entries in bits.items():
        for sig, row in entries:
            rows[row][col].append(sig)
    acc: dict[int, list[Signal]] = defaultdict(list)
    for r in sorted(rows):
        row_bits = rows[r]
        new: dict[int, list[Signal]] = defaultdict(list)
        for c in range(width_p):
            ins = acc.get(c, []) + row_bits.get(c, [])
            while len(ins) >= 2:
                if len(ins) >= 3:
                    trio = (ins.pop(0), ins.pop(0), ins.pop(0))
                    cell = gb.cell(f"fa_r{r}_c{c}", "fa", trio, c, "tree")
                else:
                    pair = (ins.pop(0), ins.pop(0))
                    cell = gb.cell(f"ha_r{r}_c{c}", "ha", pair, c, "tree")
                if len(ins) == 0:
                    new[c].append((cell, "sum"))
                else:
                    ins.append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "cout"))
            new[c].extend(ins)
        acc = new
    return acc


def _final_adder_reference(
    gb: GraphBuilder, cols: dict[int, list[Signal]], spec: MultiplierSpec
) -> list[Signal]:
    width_p = spec.width_a + spec.width_b
    zero = "zero"
    if zero not in gb.nodes:
        gb.add(zero, Node("const0", role="const"))
    zsig: Signal = (zero, "y")
    result: list[Signal] = []
    carry: Signal | None = None
    for c in range(min(spec.loa, width_p)):
        ins = cols.get(c, [])
        if len(ins) == 0:
            result.append(zsig)
        elif len(ins) == 1:
            result.append(ins[0])
        else:
            # LOA: the low part's sum is a bitwise OR; its top AND feeds the carry-in.
            cell = gb.cell(f"loa_or_c{c}", "or2", (ins[0], ins[1]), None, "cpa")
            result.append((cell, "y"))
        if c == spec.loa - 1 and len(ins) >= 2:
            carry = (gb.cell(f"loa_and_c{c}", "and2", (ins[0], ins[1]), None, "cpa"), "y")
    start = len(result)
    if spec.adder == "ripple":
        for c in range(start, width_p):
            ins = list(cols.get(c, []))
            if carry is not None:
                ins.append(carry)
                carry = None
            if len(ins) == 0:
                result.append(zsig)
            elif len(ins) == 1:
                result.append(ins[0])
            else:
                kind = "fa" if len(ins) == 3 else "ha"
                cell = gb.cell(f"cpa_{kind}_c{c}", kind, tuple(ins), c, "cpa")
                result.append((cell, "sum"))
                carry = (cell, "cout") if c + 1 < width_p else None
        return result
    # Kogge-Stone over the columns from the first one that has two bits.
    low = start
    while low < width_p and len(cols.get(low, [])) < 2 and carry is None:
        ins = cols.get(low, [])
        result.append(ins[0] if ins else zsig)
        low += 1
    if low >= width_p:
        return result
    gen: list[Signal | None] = []
    prop: list[Signal | None] = []
    if carry is not None:
        gen.append(carry)  # carry-in as a position with p = 0
        prop.append(None)
    first = len(gen)
    for c in range(low, width_p):
        ins = list(cols.get(c, []))
        x = ins[0] if ins else zsig
        y = ins[1] if len(ins) > 1 else zsig
        cell = gb.cell(f"pg_c{c}", "pg", (x, y), c, "cpa")
        gen.append((cell, "g"))
        prop.append((cell, "p"))
    p_bits = list(prop)
    dist = 1
    n_pos = len(gen)
    while dist < n_pos:
        new_g, new_p = list(gen), list(prop)
        for i in range(dist, n_pos):
            if prop[i] is None:
                continue  # span already reaches position 0
            gh, ph, gl, pl = gen[i], prop[i], gen[i - dist], prop[i - dist]
            assert gh is not None and ph is not None and gl is not None
            if pl is None:
                cell = gb.cell(f"ks_gray_d{dist}_i{i}", "gray", (gh, ph, gl), None, "cpa")
                new_g[i], new_p[i] = (cell, "g"), None
            else:
                cell = gb.cell(f"ks_black_d{dist}_i{i}", "black", (gh, ph, gl, pl), None, "cpa")
                new_g[i], new_p[i] = (cell, "g"), (cell, "p")
        gen, prop = new_g, new_p
        dist *= 2
    for k, c in enumerate(range(low, width_p)):
        pos = first + k
        p = p_bits[pos]
        assert p is not None
        if pos == 0:
            result.append(p)
        else:
            g_prev = gen[pos - 1]
            assert g_prev is not None
            cell = gb.cell(f"sum_c{c}", "xor2", (p, g_prev), c, "cpa")
            result.append((cell, "y"))
    return result


def _reference_build(spec: MultiplierSpec) -> MultiplierGraph:
    """:func:`build` as first written (gb.cell per cell, pop(0), Node() per node)."""
    width_p = spec.width_a + spec.width_b
    gb = GraphBuilder(spec.width_a, spec.width_b, spec.signed)
    _operand_inputs(gb)
    mat = _booth_matrix(gb, spec) if spec.encoding == "booth" else _and_matrix_reference(gb, spec)
    if spec.compensate:
        step = 1 << spec.truncate
        mat.constant += round(mat.removed_expectation / step) * step
    _add_constant(gb, mat, width_p, spec.truncate)
    if spec.reduction == "array":
        cols = _reduce_array_reference(gb, mat.bits, width_p)
        if any(len(v) > 2 for v in cols.values()):
            _reduce_wallace_reference(gb, cols, width_p)
    else:
        cols = {c: [s for s, _ in v] for c, v in mat.bits.items()}
        if spec.reduction == "dadda":
            _reduce_dadda_reference(gb, cols, width_p)
        else:
            _reduce_wallace_reference(gb, cols, width_p)
    result = _final_adder_reference(gb, cols, spec)
    for c, sig in enumerate(result):
        if c < spec.truncate:
            sig = ("zero", "y") if "zero" in gb.nodes else sig
        gb.add(f"p{c}", Node("output", (sig,), c, role="output", operand="p", bit=c))
    info = {
        "generator": spec.encoding if spec.encoding == "booth" else spec.reduction,
        "spec": spec,
        "edits": (),
    }
    graph = gb.freeze(info)
    # Every node above is added after the nodes it reads (signals only ever come from
    # cells already built), so the insertion order is topological and need not be
    # checked node by node (tests check it on random specs).
    graph._insertion_is_topological = True
    return graph


def _random_spec(rng: random.Random) -> MultiplierSpec:
    encoding = rng.choice(["unsigned", "baugh-wooley", "booth"])
    wa = rng.choice([2, 3, 4, 5, 6, 7, 8, 11, 12, 16])
    wb = rng.choice([wa, max(2, wa - 1), min(16, wa + 3)])
    spec = MultiplierSpec(
        wa,
        wb,
        signed=encoding == "baugh-wooley" or (encoding == "booth" and rng.random() < 0.5),
        encoding=encoding,  # type: ignore[arg-type]
        reduction=rng.choice(["array", "wallace", "dadda"]),  # type: ignore[arg-type]
        adder=rng.choice(["ripple", "kogge-stone"]),  # type: ignore[arg-type]
    )
    rows, cols = spec.pp_grid
    width_p = wa + wb
    changes: dict = {}
    if rng.random() < 0.7:
        n = rng.randint(1, rows * cols)
        changes["pruned"] = frozenset(
            (rng.randrange(rows), rng.randrange(cols)) for _ in range(min(n, 12))
        )
    if rng.random() < 0.6:
        changes["truncate"] = rng.randint(0, width_p - 1)
    if rng.random() < 0.3:
        changes["compensate"] = True
    if rng.random() < 0.4:
        changes["loa"] = rng.randint(0, width_p - 1)
    if encoding != "booth" and rng.random() < 0.3:
        changes["bam"] = (rng.randint(0, wb), rng.randint(0, width_p))
    return dataclasses.replace(spec, **changes)


def _same_graph(a: MultiplierGraph, b: MultiplierGraph) -> None:
    assert list(a.nodes) == list(b.nodes)
    for name, node in a.nodes.items():
        other = b[name]
        assert node == other, name
        assert list(vars(node).items()) == list(vars(other).items()), name
    assert a.topological_order == b.topological_order
    assert a.structural_hash == b.structural_hash
    assert dict(a.info) == dict(b.info)


def test_build_matches_reference_builder() -> None:
    rng = random.Random(7)
    for _ in range(400):
        spec = _random_spec(rng)
        _same_graph(build(spec), _reference_build(spec))


def test_bench_candidates_match_reference_builder() -> None:
    """The benchmark's candidate distribution (8×8, random prune/truncate/loa)."""
    rng = random.Random(3)
    for _ in range(300):
        spec = MultiplierSpec(
            8,
            8,
            reduction=rng.choice(["dadda", "wallace", "array"]),  # type: ignore[arg-type]
            adder=rng.choice(["ripple", "kogge-stone"]),  # type: ignore[arg-type]
            pruned=frozenset(
                (rng.randrange(8), rng.randrange(8)) for _ in range(rng.randint(0, 8))
            ),
            truncate=rng.randint(0, 8) if rng.random() < 0.7 else 0,
            loa=rng.randint(0, 6) if rng.random() < 0.3 else 0,
        )
        _same_graph(build(spec), _reference_build(spec))


def test_c42tree_matches_reference_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 4:2-compressor tree shares the matrix and final adder code."""
    # private: the fast rebuild is compared with the builder it replaces
    from dse.arith import _c42tree

    for width in (3, 4, 6, 8):
        for signed in (False, True):
            for adder in ("ripple", "kogge-stone"):
                fast = _c42tree.c42_tree(width, width, signed=signed, adder=adder)
                with monkeypatch.context() as m:
                    m.setattr(_c42tree, "_and_matrix", _and_matrix_reference)
                    m.setattr(_c42tree, "_final_adder", _final_adder_reference)
                    ref = _c42tree.c42_tree(width, width, signed=signed, adder=adder)
                _same_graph(fast, ref)


def test_cell_names_past_the_table_match_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """More cells per prefix than the name table holds fall back to formatting."""
    # private: the fast rebuild is compared with the builder it replaces
    from dse.arith import _reduction

    monkeypatch.setattr(_reduction, "_NAMES_PER_PREFIX", 1)
    monkeypatch.setattr(_reduction, "_CELL_NAMES", _reduction._CellNames())
    rng = random.Random(11)
    for _ in range(60):
        spec = _random_spec(rng)
        _same_graph(build(spec), _reference_build(spec))


def test_cell_knob_nodes_match_dataclass_replace() -> None:
    """Knobs copy a node's fields instead of dataclasses.replace; same nodes."""
    # private: the fast rebuild is compared with the builder it replaces
    from dse.arith._knobs import _with

    n = Node("fa", (("a0", "y"), ("b0", "y"), ("pp_0_1", "y")), 1, role="tree")
    for changes in (
        {"forced": frozenset({"sum"})},
        {"kind": "ha", "inputs": (("a0", "y"), ("b0", "y")), "forced": frozenset()},
        {"inputs": (("zero", "y"),) * 3},
    ):
        fast, ref = _with(n, **changes), dataclasses.replace(n, **changes)
        assert fast == ref and hash(fast) == hash(ref)
        assert list(vars(fast).items()) == list(vars(ref).items())
