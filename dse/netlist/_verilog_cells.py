"""Cells defined by Boolean functions: yosys' internal gates and Liberty cells.

An instance of such a cell elaborates into the gates of its pins' functions; the
Verilog and BLIF readers share these definitions.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from dse.errors import DataError, NetlistParseError
from dse.netlist._liberty import (
    Expr,
    liberty_pin_groups,
    parse_liberty_function,
    parse_liberty_text,
    read_liberty_text,
)
from dse.netlist._verilog_lex import _Source
from dse.netlist._verilog_parse import _Parser

PathLike = str | os.PathLike[str]


# Yosys' internal fine-grained gate cells, as they appear in `write_verilog -noexpr`.
_YOSYS_CELLS: dict[str, dict[str, str]] = {
    "$_BUF_": {"Y": "A"},
    "$_NOT_": {"Y": "~A"},
    "$_AND_": {"Y": "A & B"},
    "$_NAND_": {"Y": "~(A & B)"},
    "$_OR_": {"Y": "A | B"},
    "$_NOR_": {"Y": "~(A | B)"},
    "$_XOR_": {"Y": "A ^ B"},
    "$_XNOR_": {"Y": "~(A ^ B)"},
    "$_ANDNOT_": {"Y": "A & ~B"},
    "$_ORNOT_": {"Y": "A | ~B"},
    "$_MUX_": {"Y": "S ? B : A"},
    "$_NMUX_": {"Y": "~(S ? B : A)"},
    "$_AOI3_": {"Y": "~((A & B) | C)"},
    "$_OAI3_": {"Y": "~((A | B) & C)"},
    "$_AOI4_": {"Y": "~((A & B) | (C & D))"},
    "$_OAI4_": {"Y": "~((A | B) & (C | D))"},
}


@dataclass
class _FuncCell:
    """A cell given by boolean functions of its input pins."""

    name: str
    inputs: tuple[str, ...]
    functions: dict[str, Expr]  # output pin -> expression over input pins (as "id")


def _verilog_expr(text: str, where: str) -> Expr:
    src = _Source(text, where)
    p = _Parser(src)
    e = p.expr()
    if p.peek()[0] != "eof":
        raise src.error(p.peek()[2], f"trailing {p.peek()[1]!r} in cell function")
    return e


@functools.cache
def _yosys_cell(name: str) -> _FuncCell | None:
    spec = _YOSYS_CELLS.get(name)
    if spec is None:
        return None
    funcs = {pin: _verilog_expr(f, f"<yosys cell {name}>") for pin, f in spec.items()}
    ins = sorted({n for f in funcs.values() for n in _expr_names(f)})
    return _FuncCell(name, tuple(ins), funcs)


def _expr_names(e: Expr) -> set[str]:
    if e[0] == "id":
        return {e[1]}
    out: set[str] = set()
    for x in e[1:]:
        if isinstance(x, tuple):
            out |= _expr_names(x)
        elif isinstance(x, list):
            for y in x:
                out |= _expr_names(y)
    return out


def _liberty_cells(path: PathLike) -> dict[str, _FuncCell]:
    """The cells of a Liberty file that have a ``function``, by name.

    Only pin directions and functions are read, so a library without timing or power
    data (units, voltage) defines cells as well.
    """
    where = os.fspath(path)
    try:
        top = parse_liberty_text(read_liberty_text(where), where)
    except DataError as err:
        raise NetlistParseError(str(err)) from err
    out: dict[str, _FuncCell] = {}
    for cell in top.subgroups("cell"):
        if not cell.args:
            continue
        name = cell.args[0]
        directions: dict[str, str] = {}
        exprs: dict[str, Expr] = {}
        for pin, group in liberty_pin_groups(cell):
            directions[pin] = group.attrs.get("direction", "")
            if "function" in group.attrs:
                exprs[pin] = parse_liberty_function(
                    group.attrs["function"], f"{where}: cell {name}"
                )
        if not exprs:
            out.pop(name, None)
            continue
        ins = [p for p, d in directions.items() if d == "input"]
        for e in exprs.values():
            for n in sorted(_expr_names(e)):
                if n not in ins:
                    ins.append(n)
        out[name] = _FuncCell(name, tuple(ins), exprs)
    return out
