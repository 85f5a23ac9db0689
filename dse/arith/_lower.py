"""Lowering: :class:`~dse.arith.MultiplierGraph` → :class:`Netlist`.

One pass in topological order: each cell type's ``lower`` emits gates into a
:class:`NetlistBuilder`, which folds constants (pruned inputs, outputs tied to 0 by
knobs) and shares equal gates; :meth:`NetlistBuilder.build` then drops gates that no
product bit depends on. The result is deterministic for a given graph.

With numba, :func:`lower` without net names (the evaluator's call) runs that pass
compiled: each cell kind's lowering is recorded once as a gate template (the
sequence of builder calls it makes, over symbolic inputs), and a kernel replays the
templates node by node with the builder's own folding and hashing, so the gates, their
numbering and the groups are those of the Python loop (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

import numpy as np

from dse._jit import HAVE_NUMBA
from dse.arith import _cells
from dse.arith._cells import CELL_TYPES
from dse.arith._graph import MultiplierGraph
from dse.errors import GraphError
from dse.netlist import (
    ARITY,
    GROUP_SIGNATURES,
    OP_TRUTH,
    SYMMETRIC_OPS,
    Netlist,
    NetlistBuilder,
    Op,
    finish_compiled,
    lower_kernel,
)

__all__ = ["lower"]

_ARITY_INT = [ARITY[Op(i)] for i in range(len(Op))]
_GROUP_SIGNATURES_INT = {k: tuple(int(o) for o in v) for k, v in GROUP_SIGNATURES.items()}


def lower(graph: MultiplierGraph, name: str = "mul", *, net_names: bool = True) -> Netlist:
    """Lower a multiplier graph to a gate-level netlist with ports ``a``, ``b`` → ``p``.

    Args:
        net_names: keep ``node_port`` names for the nets (readable Verilog); the
            evaluator turns this off, since names cost time and it never prints them.
    """
    if not net_names and HAVE_NUMBA:
        netlist = _lower_compiled(graph, name)
        if netlist is not None:
            return netlist
    return _lower_python(graph, name, net_names=net_names)


def _lower_python(graph: MultiplierGraph, name: str, *, net_names: bool) -> Netlist:
    """:func:`lower` in Python (the reference, and the path that keeps net names)."""
    builder = NetlistBuilder(name, [("a", graph.width_a), ("b", graph.width_b)])
    a_nets = builder.input("a")
    b_nets = builder.input("b")
    nets: dict[tuple[str, str], int] = {}
    products: dict[int, int] = {}
    nodes = graph.nodes
    node_of = nodes.__getitem__
    const0 = builder.const0
    # per cell kind met: (lowering, output ports, same-fan-in form), looked up once
    kinds: dict[
        str,
        tuple[
            Callable[..., Sequence[int]],
            tuple[str, ...],
            tuple[tuple[int, ...], int, str | None] | None,
        ],
    ] = {}
    gates_over = builder.gates_over
    group = builder.group
    net_of = nets.__getitem__
    for node_id in graph.topological_order:
        node = node_of(node_id)
        if node.role == "input":
            nets[(node_id, "y")] = (a_nets if node.operand == "a" else b_nets)[node.bit]
            continue
        ins = list(map(net_of, node.inputs))
        kind = node.kind
        if kind == "output":
            products[node.bit] = ins[0]
            continue
        info = kinds.get(kind)
        if info is None:
            ct = CELL_TYPES.get(kind)
            if ct is None:
                raise GraphError(f"node {node_id!r} has unknown cell kind {kind!r}")
            info = kinds[kind] = (ct.lower, ct.outputs, _cells.SAME_FANIN.get(ct.lower))
        low, outputs, same = info
        if same is not None and len(ins) == same[1]:
            # the lowering is exactly these calls (see SAME_FANIN): skip its frame
            outs: Sequence[int] = gates_over(same[0], ins)
            if same[2] is not None:
                group(same[2], outs)
        else:
            outs = low(builder, ins)
        if len(outs) != len(outputs):
            raise GraphError(f"lowering of {kind!r} returned {len(outs)} nets")
        forced = node.forced
        if not forced and not net_names:
            for port, net in zip(outputs, outs, strict=False):  # lengths checked above
                nets[(node_id, port)] = net
            continue
        for port, net in zip(outputs, outs, strict=True):
            if forced and port in forced:
                net = const0
            nets[(node_id, port)] = net
            if net_names:
                builder.name_net(net, f"{node_id}_{port}")
    width_p = graph.width_p
    missing = [k for k in range(width_p) if k not in products]
    if missing:
        raise GraphError(f"product bit p{missing[0]} is not driven")
    return builder.build([("p", [products[k] for k in range(width_p)])])


# ----------------------------------------------------------------- compiled lowering
# Template references: cell input k is k (< 8), const0/const1 are 8/9, the result of
# template step j is 16 + j.
_MAX_PORTS = 8  # distinct output-port names the node table has room for
_GROUP_NAMES = list(_GROUP_SIGNATURES_INT)
_GROUP_SIG = np.array(
    [list(_GROUP_SIGNATURES_INT[k]) for k in _GROUP_NAMES], dtype=np.int64
).reshape(-1, 2)
_ARITY_NP = np.array(_ARITY_INT, dtype=np.int64)
_SYM_NP = np.array([i in SYMMETRIC_OPS for i in range(len(_ARITY_INT))], dtype=np.bool_)
_TRUTH_NP = np.array(OP_TRUTH, dtype=np.int64)


class _Untraceable(Exception):
    pass


class _Tracer:
    """Stands in for a :class:`NetlistBuilder` while a lowering runs once on symbolic
    inputs, recording the gate calls; anything else a lowering might touch fails."""

    __slots__ = ("groups", "steps")
    const0 = 8
    const1 = 9

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, int, int, int]] = []
        self.groups: list[tuple[int, int, int]] = []

    def constant(self, value: int) -> int:
        return 9 if value else 8

    def gate(self, op: Any, *ins: int) -> int:
        o = int(op)
        if len(ins) != _ARITY_INT[o] or not all(type(i) is int for i in ins):
            raise _Untraceable
        self.steps.append((o, *ins, *([-1] * (4 - len(ins)))))  # type: ignore[arg-type]
        return 16 + len(self.steps) - 1

    def inv(self, a: int) -> int:
        return self.gate(3, a)

    def gates_over(self, ops: Sequence[int], ins: Sequence[int]) -> tuple[int, ...]:
        return tuple(self.gate(o, *ins) for o in ops)

    def group(self, kind: str, nets: Sequence[int]) -> None:
        sig = _GROUP_SIGNATURES_INT.get(kind)
        if sig is not None and len(sig) == len(nets) == 2:
            self.groups.append((_GROUP_NAMES.index(kind), int(nets[0]), int(nets[1])))
        else:  # kept in the list (as the builder does), never as a cell
            self.groups.append((-1, 8, 8))

    def name_net(self, net: int, name: str) -> None:
        pass


class _Templates:
    """Gate templates per cell kind, as the arrays the kernel reads."""

    def __init__(self) -> None:
        self.port_slot: dict[str, int] = {"y": 0}  # operand bits drive slot 0
        self.code: dict[str, tuple[object, int]] = {}  # kind -> (its CellType, code)
        self.rows: list[tuple[int, list, list, list, list]] = []
        self.arrays: tuple[np.ndarray, ...] = ()
        self.n_steps = np.zeros(0, dtype=np.int64)

    def add(self, kind: str, ct: Any) -> int:
        """Trace ``ct``'s lowering; its code, or -1 when the kernel cannot replay it."""
        code = -1
        low = ct.lower
        # Only dse's own lowerings are known to be straight-line (no decisions on the
        # nets they get); other cell types keep the Python loop.
        if getattr(low, "__module__", "").startswith("dse."):
            tr = _Tracer()
            n_in = len(ct.inputs)
            try:
                outs = list(low(tr, list(range(n_in))))
                ok = (
                    n_in <= 8
                    and len(outs) == len(ct.outputs)
                    and all(type(r) is int and r != -1 for r in outs)
                )
            except Exception:
                ok = False
            if ok:
                slots = []
                for port in ct.outputs:
                    if port not in self.port_slot:
                        self.port_slot[port] = len(self.port_slot)
                    slots.append(self.port_slot[port])
                if len(self.port_slot) <= _MAX_PORTS:
                    code = len(self.rows)
                    self.rows.append((n_in, tr.steps, outs, slots, tr.groups))
                    self._pack()
        self.code[kind] = (ct, code)
        return code

    def _pack(self) -> None:
        steps = [s for _, st, _, _, _ in self.rows for s in st]
        outs = [r for _, _, o, _, _ in self.rows for r in o]
        slots = [p for _, _, _, sl, _ in self.rows for p in sl]
        grps = [g for *_, gr in self.rows for g in gr]

        def ptr(lengths: list[int]) -> np.ndarray:
            return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

        # gates a template can make: a step folds into at most 4 new gates (AOI/OAI
        # with a constant input), else 2 (e.g. XNOR3 -> XOR + INV, MUX -> INV + OR)
        self.n_steps = np.array(
            [sum(4 if 18 <= s[0] <= 21 else 2 for s in st) for _, st, *_ in self.rows],
            dtype=np.int64,
        )
        self.arrays = (
            np.array([r[0] for r in self.rows], dtype=np.int64),
            ptr([len(r[1]) for r in self.rows]),
            np.array(steps, dtype=np.int64).reshape(-1, 5),
            ptr([len(r[2]) for r in self.rows]),
            np.array(outs, dtype=np.int64),
            np.array(slots, dtype=np.int64),
            ptr([len(r[4]) for r in self.rows]),
            np.array(grps, dtype=np.int64).reshape(-1, 3),
        )


_TEMPLATES = _Templates()
_IN_A = "\x00operand a"  # code keys of operand bits (not cell kind names)
_IN_B = "\x00operand b"


def _lower_compiled(graph: MultiplierGraph, name: str) -> Netlist | None:
    """:func:`lower` (without net names) by the kernel, or ``None`` where the Python
    loop must run: a cell kind without a template, or a malformed graph (the loop then
    raises its own error)."""
    tpl = _TEMPLATES
    order = graph.topological_order
    nl = graph._nodes_in_order()
    # Per node, the key of its code: its kind, or for an operand-a/b bit (whatever its
    # kind, as the Python loop) a key no kind can have. Each list below is one pass
    # over the nodes: this conversion runs for every candidate a search evaluates.
    keys = [n.kind if n.role != "input" else (_IN_A if n.operand == "a" else _IN_B) for n in nl]
    codes: dict[str, int] = {_IN_A: -1, _IN_B: -3}
    for kind in set(keys):
        if kind in codes:
            continue
        ct = CELL_TYPES.get(kind)
        known = tpl.code.get(kind)
        if kind == "output":
            codes[kind] = -2
        elif ct is None:
            return None
        elif known is not None and known[0] is ct:
            codes[kind] = known[1]
        else:
            codes[kind] = tpl.add(kind, ct)
        if codes[kind] == -1:
            return None
    K = _MAX_PORTS
    index = dict(zip(order, range(0, K * len(order), K), strict=True))
    port_slot = tpl.port_slot
    inputs = [n.inputs for n in nl]
    try:
        in_slot = [index[s] + port_slot[p] for ins in inputs for s, p in ins]
    except KeyError:
        return None
    code_list = [codes[k] for k in keys]
    node_code = np.array(code_list, dtype=np.int64)
    in_ptr = np.array(list(accumulate(map(len, inputs), initial=0)), dtype=np.int64)
    node_bit = np.array([n.bit for n in nl], dtype=np.int64)
    node_forced = np.zeros(len(nl), dtype=np.int64)
    for i in [i for i, n in enumerate(nl) if n.forced]:
        if code_list[i] >= 0:
            n = nl[i]
            outs = CELL_TYPES[n.kind].outputs
            node_forced[i] = sum(1 << k for k, p in enumerate(outs) if p in n.forced)
    cells = node_code[node_code >= 0]
    cap = 2 + int(tpl.n_steps[cells].sum()) + 4  # + the kernel's per-step margin
    n_in = graph.width_a + graph.width_b
    width_p = graph.width_p
    status, ops, flat, grp_code, grp_sig, grp_nets, products = lower_kernel(
        n_in,
        graph.width_a,
        graph.width_b,
        width_p,
        K * len(nl),
        node_code,
        node_bit,
        node_forced,
        in_ptr,
        np.array(in_slot, dtype=np.int64),
        *tpl.arrays,
        _ARITY_NP,
        _SYM_NP,
        _TRUTH_NP,
        cap,
        _GROUP_SIG,
    )
    if status or (products < 0).any():
        return None
    group_kinds = [_GROUP_NAMES[c] if c >= 0 else "" for c in grp_code.tolist()]
    return finish_compiled(
        name,
        (("a", graph.width_a), ("b", graph.width_b)),
        ops,
        flat,
        [("p", products.tolist())],
        group_kinds,
        grp_sig,
        grp_nets,
        {},
    )
