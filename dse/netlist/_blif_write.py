"""BLIF (Berkeley Logic Interchange Format) writer for :class:`Netlist`.

The writer emits one ``.names`` cover table per gate; port bits are named ``a[0]``,
``p[3]`` ..., so ``yosys -p "read_blif -wideports x.blif"`` (or ABC) reads the ports
back as vectors, and :func:`~dse.netlist.read_blif` reads it back gate for gate.
"""

from __future__ import annotations

import itertools
import re

from dse.netlist._netlist import ARITY, Netlist, Op, _bit_eval

__all__ = ["write_blif"]


# Hand-written covers (on-set cubes) for the common gates; others use their minterms.
_COVERS: dict[Op, tuple[str, ...]] = {
    Op.BUF: ("1",),
    Op.INV: ("0",),
    Op.AND: ("11",),
    Op.OR: ("1-", "-1"),
    Op.XOR: ("10", "01"),
    Op.NAND: ("0-", "-0"),
    Op.NOR: ("00",),
    Op.XNOR: ("00", "11"),
    Op.AND3: ("111",),
    Op.OR3: ("1--", "-1-", "--1"),
    Op.NAND3: ("0--", "-0-", "--0"),
    Op.NOR3: ("000",),
    Op.MAJ: ("11-", "1-1", "-11"),
    Op.MUX: ("1-0", "-11"),
    Op.AOI21: ("0-0", "-00"),
    Op.OAI21: ("00-", "--0"),
}


def _cover(op: Op) -> tuple[str, ...]:
    if op in _COVERS:
        return _COVERS[op]
    n = ARITY[op]
    rows = []
    for bits in itertools.product((0, 1), repeat=n):
        if _bit_eval(op, bits):
            rows.append("".join(map(str, bits)))
    return tuple(rows)


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
        op = Op(o)
        out = names[n_in + g]
        if op is Op.CONST0:
            lines.append(f".names {out}")
        elif op is Op.CONST1:
            lines.append(f".names {out}\n1")
        else:
            ins = " ".join(names[f] for f in fanin[g][: ARITY[op]])
            lines.append(f".names {ins} {out}")
            lines.extend(f"{cube} 1" for cube in _cover(op))
    for name, net in out_names:
        lines.append(f".names {names[net]} {name}\n1 1")
    lines.append(".end")
    return "\n".join(lines) + "\n"
