"""Lowering: :class:`~dse.arith.MultiplierGraph` → :class:`Netlist`.

One pass in topological order: each cell type's ``lower`` emits gates into a
:class:`NetlistBuilder`, which folds constants (pruned inputs, outputs tied to 0 by
knobs) and shares equal gates; :meth:`NetlistBuilder.build` then drops gates that no
product bit depends on. The result is deterministic for a given graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from dse.errors import GraphError
from dse.netlist._netlist import Netlist, NetlistBuilder

if TYPE_CHECKING:
    from dse.arith._graph import MultiplierGraph

__all__ = ["lower"]


def lower(graph: MultiplierGraph, name: str = "mul", *, net_names: bool = True) -> Netlist:
    """Lower a multiplier graph to a gate-level netlist with ports ``a``, ``b`` → ``p``.

    Args:
        net_names: keep ``node_port`` names for the nets (readable Verilog); the
            evaluator turns this off, since names cost time and it never prints them.
    """
    from dse.arith._cells import CELL_TYPES  # dse.arith itself builds on dse.netlist

    builder = NetlistBuilder(name, [("a", graph.width_a), ("b", graph.width_b)])
    a_nets = builder.input("a")
    b_nets = builder.input("b")
    nets: dict[tuple[str, str], int] = {}
    products: dict[int, int] = {}
    nodes = graph.nodes
    const0 = builder.const0
    # per cell kind met: (lowering, output ports), looked up once per call
    kinds: dict[str, tuple[Callable[..., Sequence[int]], tuple[str, ...]]] = {}
    for node_id in graph.topological_order:
        node = nodes[node_id]
        if node.role == "input":
            nets[(node_id, "y")] = (a_nets if node.operand == "a" else b_nets)[node.bit]
            continue
        ins = [nets[sig] for sig in node.inputs]
        kind = node.kind
        if kind == "output":
            products[node.bit] = ins[0]
            continue
        info = kinds.get(kind)
        if info is None:
            ct = CELL_TYPES.get(kind)
            if ct is None:
                raise GraphError(f"node {node_id!r} has unknown cell kind {kind!r}")
            info = kinds[kind] = (ct.lower, ct.outputs)
        low, outputs = info
        outs = low(builder, ins)
        if len(outs) != len(outputs):
            raise GraphError(f"lowering of {kind!r} returned {len(outs)} nets")
        forced = node.forced
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
