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
    from dse.arith._cells import CELL_TYPES, SAME_FANIN  # dse.arith builds on dse.netlist

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
    # The builder's tables, for the inlined same-fan-in path below: exactly what
    # NetlistBuilder.gates_over does, without a method call per node.
    const_nets = builder._const.keys()
    table = builder._table
    gate_ops = builder._ops
    flat = builder._flat
    n_in = builder._n_in
    groups = builder._groups
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
            info = kinds[kind] = (ct.lower, ct.outputs, SAME_FANIN.get(ct.lower))
        low, outputs, same = info
        if same is not None and len(ins) == same[1] and const_nets.isdisjoint(ins):
            t = tuple(sorted(ins))
            new: list[int] = []
            for o in same[0]:
                key = (o, t)
                net = table.get(key)
                if net is None:
                    net = n_in + len(gate_ops)
                    gate_ops.append(o)
                    flat.extend(t)
                    table[key] = net
                new.append(net)
            outs: Sequence[int] = new
            if same[2] is not None:
                groups.append((same[2], tuple(new)))  # builder.group, inlined
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
