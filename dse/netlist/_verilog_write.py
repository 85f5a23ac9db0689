"""Structural Verilog writer for :class:`Netlist`.

The writer emits one continuous ``assign`` per gate (``style="assign"``) or one Verilog
gate primitive per gate (``style="gates"``); both are accepted by yosys and Icarus, and
:func:`~dse.netlist.read_verilog` reads either back gate for gate.
"""

from __future__ import annotations

import re
from typing import Literal

from dse.errors import NetlistError
from dse.netlist._netlist import Netlist, Op
from dse.netlist._ops import gate_op
from dse.netlist._verilog_lex import _SIMPLE_ID

__all__ = ["write_verilog"]


_KEYWORDS = frozenset(
    """always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config
    deassign default defparam design disable edge else end endcase endconfig endfunction
    endgenerate endmodule endprimitive endspecify endtable endtask event for force forever
    fork function generate genvar highz0 highz1 if ifnone incdir include initial inout input
    instance integer join large liblist library localparam macromodule medium module nand
    negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge
    primitive pull0 pull1 pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real
    realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled
    signed small specify specparam strong0 strong1 supply0 supply1 table task time tran
    tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand
    weak0 weak1 while wire wor xnor xor""".split()  # noqa: SIM905
)


def _vid(name: str) -> str:
    """``name`` as a Verilog identifier (escaped when it is not a simple one)."""
    if _SIMPLE_ID.match(name) and name not in _KEYWORDS:
        return name
    if name.startswith("\\"):
        return name + " "
    return "\\" + name.replace(" ", "_") + " "


def _net_refs(netlist: Netlist, wire_prefix: str) -> list[str]:
    """Verilog text that reads each net: a port bit, a constant, or an internal wire."""
    refs: list[str] = []
    for port, width in netlist.input_ports:
        pid = _vid(port)
        refs.extend(f"{pid}[{i}]" for i in range(width))
    for g, op in enumerate(netlist.ops.tolist()):
        if op == Op.CONST0:
            refs.append("1'b0")
        elif op == Op.CONST1:
            refs.append("1'b1")
        else:
            refs.append(f"{wire_prefix}{netlist.n_inputs + g}")
    return refs


def _wire_prefix(netlist: Netlist) -> str:
    ports = {p for p, _ in netlist.input_ports} | {p for p, _ in netlist.output_ports}
    prefix = "n"
    while any(re.fullmatch(re.escape(prefix) + r"\d+(_\d+)?", p) for p in ports):
        prefix += "_"
    return prefix


def write_verilog(
    netlist: Netlist, *, style: Literal["assign", "gates"] = "assign", module: str | None = None
) -> str:
    """Structural Verilog for ``netlist``.

    Args:
        style: ``"assign"``: one continuous assignment per gate over ``~ & | ^`` (and
            ``?:`` for MUX); ``"gates"``: Verilog gate primitives (``and``, ``or``,
            ``xor``, ``nand``, ``nor``, ``xnor``, ``not``, ``buf``), with MAJ, MUX,
            AOI/OAI and 3-input XOR decomposed into several primitives.
        module: module name (default: the netlist's name).

    Returns:
        Deterministic Verilog-2001 text: ports as declared by the netlist (``input
        [wa-1:0] a, input [wb-1:0] b, output [P-1:0] p``), one ``wire`` per internal
        net, constants as ``1'b0``/``1'b1``, every net driven once.
    """
    if style not in ("assign", "gates"):
        raise NetlistError(f"write_verilog: unknown style {style!r}; expected 'assign' or 'gates'")
    name = _vid(module or netlist.name or "mul")
    prefix = _wire_prefix(netlist)
    refs = _net_refs(netlist, prefix)
    n_in = netlist.n_inputs
    ops = [gate_op(o) for o in netlist.ops.tolist()]
    fanin = netlist.fanin.tolist()
    lines = [f"// {netlist.name}: {netlist.gate_count} gates, written by dse.netlist.write_verilog"]
    decls = [f"  input  [{w - 1}:0] {_vid(p)}" for p, w in netlist.input_ports]
    decls += [f"  output [{max(len(nets), 1) - 1}:0] {_vid(p)}" for p, nets in netlist.output_ports]
    lines.append(f"module {name} (")
    lines.append(",\n".join(decls))
    lines.append(");")
    body: list[str] = []
    for g, op in enumerate(ops):
        if op.arity == 0:  # constants are read as 1'b0 / 1'b1
            continue
        net = n_in + g
        lines.append(f"  wire {refs[net]};")
        ins = [refs[f] for f in fanin[g][: op.arity]]
        if style == "assign":
            body.append(f"  assign {refs[net]} = {op.verilog.format(*ins)};")
            continue
        steps = op.primitives
        if steps is None:
            raise NetlistError(
                f"write_verilog: gate op {op.name} has no gate-primitive form; use style='assign'"
            )
        for k, (prim, out, args) in enumerate(steps):
            temps = {f"t{j}": f"{refs[net]}_{j}" for j in range(len(steps))}
            if out != "o":
                lines.append(f"  wire {temps[out]};")
            target = refs[net] if out == "o" else temps[out]
            terms = [temps[a] if a.startswith("t") else ins[int(a)] for a in args]
            inst = f"g{net}" if len(steps) == 1 else f"g{net}_{k}"
            body.append(f"  {prim} {inst} ({target}, {', '.join(terms)});")
    for port, nets in netlist.output_ports:
        pid = _vid(port)
        for i, n in enumerate(nets):
            body.append(f"  assign {pid}[{i}] = {refs[n]};")
    lines.extend(body)
    lines.append("endmodule")
    return "\n".join(lines) + "\n"
