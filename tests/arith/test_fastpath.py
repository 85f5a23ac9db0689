"""Fast paths of the structure IR agree with the plain definitions."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import random

from dse.arith import CELL_TYPES, apply_knobs, generate
from dse.arith._cells import cell_type
from dse.arith._graph import MultiplierGraph, Node


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
    from dse.arith._generators import MultiplierSpec, build
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
