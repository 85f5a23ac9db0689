"""Gate-level Verilog reader: the entry points.

The reader takes gate-level netlists as approximate-multiplier libraries ship them
(EvoApprox8b, ArithsGen, yosys ``write_verilog``): modules with ANSI or non-ANSI ports,
``input``/``output``/``wire`` vectors, continuous assignments over ``~ & | ^`` (also
``~& ~| ~^``, reductions, ``?:``, ``!``/``&&``/``||`` on single bits), bit and part
selects, concatenations and replications, sized constants, gate primitives, and
instances of cells defined as Verilog modules, as yosys internal gates (``$_AND_``
...), or by the ``function`` of a Liberty cell. Hierarchy is flattened. Behavioural
code (``always``, ``reg``, arithmetic operators, ``generate``) raises
:class:`~dse.errors.NetlistParseError` with ``file:line``.

The stages live in their own modules: tokenizer (``_verilog_lex``), parser
(``_verilog_parse``), cells defined by functions (``_verilog_cells``) and elaboration
(``_verilog_elab``); the writer is ``_verilog_write``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from dse.errors import NetlistParseError
from dse.netlist._netlist import Netlist
from dse.netlist._ports import netlist_from_read_gates
from dse.netlist._verilog_cells import _FuncCell, _liberty_cells
from dse.netlist._verilog_elab import _Elaborator
from dse.netlist._verilog_lex import _Source
from dse.netlist._verilog_parse import (
    PathLike,
    _as_paths,
    _Decl,
    _Module,
    _parse_sources,
    _Parser,
    _read,
)

__all__ = ["read_verilog", "read_verilog_text", "scan_module_ports"]


def _pick_top(
    modules: Mapping[str, _Module], main_names: Sequence[str], top: str | None
) -> _Module:
    if top is not None:
        if top not in modules:
            raise NetlistParseError(
                f"top module {top!r} is not defined; expected one of {sorted(modules)}"
            )
        return modules[top]
    if not main_names:
        raise NetlistParseError("no module found in the given Verilog files; expected 'module'")
    used = {item[1] for m in modules.values() for item in m.items if item[0] == "inst"}
    roots = [n for n in main_names if n not in used]
    if len(roots) == 1:
        return modules[roots[0]]
    if not roots:
        return modules[main_names[-1]]
    m = modules[roots[-1]]
    raise NetlistParseError(
        f"{m.where}: cannot pick the top module: {', '.join(roots)} are not instantiated by any "
        f"other; expected top= to name one"
    )


def _elaborate(
    modules: Mapping[str, _Module], top_mod: _Module, func_cells: Mapping[str, _FuncCell]
) -> Netlist:
    el = _Elaborator(modules, func_cells)
    el.module(top_mod, "")
    in_ports: list[tuple[str, list[str]]] = []
    out_ports: list[tuple[str, list[str], _Decl]] = []
    for p in top_mod.ports:
        d = top_mod.decls[p]
        if d.kind == "input":
            in_ports.append((p, d.bit_names(p)))
        else:
            out_ports.append((p, d.bit_names(p), d))
    driven = {g[0] for g in el.gates}
    driven.update(b for _, bits in in_ports for b in bits)
    for _, bits, d in out_ports:
        for b in bits:
            if b not in driven:
                raise NetlistParseError(
                    f"{top_mod.src.where(d.pos)}: output {b} of module {top_mod.name!r} is never driven"
                )
    return netlist_from_read_gates(
        top_mod.name,
        in_ports,
        [(p, bits) for p, bits, _ in out_ports],
        [(g[0], g[1], g[2], g[3]) for g in el.gates],
    )


def read_verilog_text(
    text: str,
    *,
    filename: str = "<string>",
    cells: Iterable[PathLike] = (),
    liberty: PathLike | None = None,
    top: str | None = None,
) -> Netlist:
    """:func:`read_verilog` on Verilog source text (``filename`` is used in messages)."""
    cell_srcs = [(_read(p), str(p)) for p in _as_paths(cells)] if cells else []
    modules, main_names = _parse_sources([(text, filename)], cell_srcs)
    func_cells = _liberty_cells(liberty) if liberty is not None else {}
    return _elaborate(modules, _pick_top(modules, main_names, top), func_cells)


def read_verilog(
    paths: PathLike | Iterable[PathLike],
    *,
    cells: Iterable[PathLike] = (),
    liberty: PathLike | None = None,
    top: str | None = None,
) -> Netlist:
    """Read a gate-level Verilog netlist and flatten it into a :class:`Netlist`.

    Args:
        paths: one Verilog file or several; their modules are candidates for the top.
        cells: further Verilog files that define cells (e.g. ArithsGen's half/full
            adders, EvoApprox8b's cell library); never picked as the top.
        liberty: a Liberty file whose cells' ``function`` attributes define cells
            instantiated in the netlist.
        top: the top module; by default the one module of ``paths`` that no other
            module instantiates (an error if several are not instantiated).

    Returns:
        The netlist with the top module's input ports (the first two are the
        operands) and output ports (the first is the product), in declaration order.

    Raises:
        NetlistParseError: unreadable or unsupported input, an unknown cell, an
            undriven output, a net driven twice or a combinational loop; the message
            starts with ``file:line``.
    """
    main = [(_read(p), str(p)) for p in _as_paths(paths)]
    cell_srcs = [(_read(p), str(p)) for p in _as_paths(cells)]
    modules, main_names = _parse_sources(main, cell_srcs)
    func_cells = _liberty_cells(liberty) if liberty is not None else {}
    return _elaborate(modules, _pick_top(modules, main_names, top), func_cells)


def scan_module_ports(
    text: str, filename: str = "<string>"
) -> dict[str, list[tuple[str, str, int]]]:
    """Ports ``(direction, name, width)`` of every module in ``text``, in port order.

    Lenient: only module headers and port declarations are read, so behavioural
    modules (e.g. a reference model with ``assign p = a * b``) work too. Used by
    :mod:`dse.testing.iverilog` to build a testbench.
    """
    src = _Source(text, filename)
    p = _Parser(src)
    out: dict[str, list[tuple[str, str, int]]] = {}
    while p.peek()[0] != "eof":
        t = p.next()
        if not (t[0] == "id" and t[1] in ("module", "macromodule")):
            continue
        name = p.ident("a module name")[1]
        mod = _Module(name, src, t[2])
        p.mod = mod
        if p.accept("#"):
            p.expect("(")
            while not p.accept(")"):
                if p.accept(","):
                    continue
                p.parse_param_decl(in_header=True)
        if p.accept("("):
            p.parse_port_list(mod)
        p.expect(";")
        at_stmt = True
        while p.peek()[0] != "eof":
            t = p.peek()
            if t[1] == "endmodule":
                p.next()
                break
            if at_stmt and t[0] == "id" and t[1] in ("input", "output"):
                p.next()
                if p.peek()[1] in ("wire", "reg", "logic", "signed", "unsigned"):
                    p.next()
                if p.peek()[1] in ("signed", "unsigned"):
                    p.next()
                rng = p.parse_range_opt()
                for n in p._name_list():
                    mod.decls[n[1]] = _Decl(t[1], rng[0], rng[1], n[2])
                continue
            if at_stmt and t[1] in ("parameter", "localparam"):
                p.parse_param_decl()
                continue
            p.next()
            at_stmt = t[1] in (";", "begin", "end")
        out[name] = [
            (mod.decls[q].kind, q, mod.decls[q].width) for q in mod.ports if q in mod.decls
        ]
    return out
