"""A C99 model of a :class:`Netlist`: one function that evaluates the gates bit by bit."""

from __future__ import annotations

import re

from dse.errors import NetlistError
from dse.netlist._netlist import Netlist, Op
from dse.netlist._ops import gate_op

__all__ = ["write_c"]

_C_KEYWORD_TEXT = (
    "auto break case char const continue default do double else enum extern float for goto "
    "if inline int long register restrict return short signed sizeof static struct switch "
    "typedef union unsigned void volatile while _Bool _Complex _Imaginary"
)
_C_KEYWORDS = frozenset(_C_KEYWORD_TEXT.split())


def _cid(name: str) -> str:
    s = re.sub(r"\W", "_", name)
    if not s or s[0].isdigit() or s in _C_KEYWORDS:
        s = "_" + s
    return s


def write_c(netlist: Netlist, *, function: str | None = None) -> str:
    """A self-contained C99 function ``uint64_t f(uint64_t a, uint64_t b)``.

    Each input port becomes a ``uint64_t`` parameter (raw bits, LSB first); the
    function evaluates every gate on 0/1 values and returns the bits of the first
    output port (the product; a signed product is sign-extended by the caller).

    Args:
        function: the C function name (default: the netlist's name, made a C name).
    """
    if not netlist.output_ports:
        raise NetlistError(f"write_c: netlist {netlist.name!r} has no output port")
    if any(w > 64 for _, w in netlist.input_ports) or len(netlist.output_ports[0][1]) > 64:
        raise NetlistError("write_c: ports wider than 64 bits do not fit a uint64_t")
    fname = _cid(function or netlist.name or "mul")
    params = [_cid(p) for p, _ in netlist.input_ports]
    if len(set(params)) != len(params):
        params = [f"in{k}" for k in range(len(params))]
    refs: list[str] = []
    body: list[str] = []
    n_in = netlist.n_inputs
    fanin = netlist.fanin.tolist()
    used = {f for row in fanin for f in row if 0 <= f < n_in}
    used.update(n for _, nets in netlist.output_ports[:1] for n in nets if n < n_in)
    for param, (_, width) in zip(params, netlist.input_ports, strict=True):
        for i in range(width):
            if len(refs) in used:
                body.append(f"    const uint64_t {param}_{i} = ({param} >> {i}) & 1u;")
            refs.append(f"{param}_{i}")
    body.extend(f"    (void){p};" for p in params)
    for g, o in enumerate(netlist.ops.tolist()):
        op = gate_op(o)
        if o == Op.CONST0:
            refs.append("UINT64_C(0)")
            continue
        if o == Op.CONST1:
            refs.append("UINT64_C(1)")
            continue
        name = f"n{n_in + g}"
        refs.append(name)
        ins = [refs[f] for f in fanin[g][: op.arity]]
        body.append(f"    const uint64_t {name} = {op.c.format(*ins)};")
    port, nets = netlist.output_ports[0]
    terms = [f"({refs[n]} << {i})" for i, n in enumerate(nets)] or ["UINT64_C(0)"]
    lines = [
        f"/* {netlist.name}: {netlist.gate_count} gates, written by dse.netlist.write_c;",
        f"   returns output port {port} ({len(nets)} bits). */",
        "#include <stdint.h>",
        "",
        f"uint64_t {fname}({', '.join(f'uint64_t {p}' for p in params)})",
        "{",
        *body,
        "    return " + "\n        | ".join(terms) + ";",
        "}",
    ]
    return "\n".join(lines) + "\n"
