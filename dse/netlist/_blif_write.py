"""BLIF (Berkeley Logic Interchange Format) writer for :class:`Netlist`.

The writer emits one ``.names`` cover table per gate; port bits are named ``a[0]``,
``p[3]`` ..., so ``yosys -p "read_blif -wideports x.blif"`` (or ABC) reads the ports
back as vectors, and :func:`~dse.netlist.read_blif` reads it back gate for gate.
"""

from __future__ import annotations

import re

from dse.netlist._netlist import Netlist, Op
from dse.netlist._ops import gate_op

__all__ = ["write_blif"]


_BLIF_NAME = re.compile(r"[^\s#=\\]+\Z")


def _name(s: str) -> str:
    return s if _BLIF_NAME.match(s) else re.sub(r"[\s#=\\]", "_", s)


def write_blif(netlist: Netlist, model: str | None = None) -> str:
    """BLIF text for ``netlist``: ``.model``, ``.inputs``, ``.outputs``, ``.names`` covers.

    Constants are ``.names`` with an empty (0) or ``1`` (1) cover; an output bit that
    is a primary input or shares a net with another output gets a buffer.
    """
    n_in = netlist.n_inputs
    names: list[str] = []
    for port, width in netlist.input_ports:
        names.extend(f"{_name(port)}[{i}]" for i in range(width))
    used = set(names)
    prefix = "n"
    while any(n.startswith(prefix) and n[len(prefix) :].isdigit() for n in used):
        prefix += "_"
    names.extend(f"{prefix}{n_in + g}" for g in range(netlist.n_gates))
    out_names = [
        (f"{_name(port)}[{i}]", net)
        for port, nets in netlist.output_ports
        for i, net in enumerate(nets)
    ]
    lines = [
        f"# {netlist.name}: {netlist.gate_count} gates, written by dse.netlist.write_blif",
        f".model {_name(model or netlist.name or 'mul')}",
        ".inputs " + " ".join(names[:n_in]),
        ".outputs " + " ".join(n for n, _ in out_names),
    ]
    ops = netlist.ops.tolist()
    fanin = netlist.fanin.tolist()
    for g, o in enumerate(ops):
        op = gate_op(o)
        out = names[n_in + g]
        if o == Op.CONST0:
            lines.append(f".names {out}")
        elif o == Op.CONST1:
            lines.append(f".names {out}\n1")
        else:
            ins = " ".join(names[f] for f in fanin[g][: op.arity])
            lines.append(f".names {ins} {out}")
            lines.extend(f"{cube} 1" for cube in op.cover())
    for name, net in out_names:
        lines.append(f".names {names[net]} {name}\n1 1")
    lines.append(".end")
    return "\n".join(lines) + "\n"
