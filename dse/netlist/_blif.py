"""BLIF (Berkeley Logic Interchange Format) reader for :class:`Netlist`.

The reader takes combinational BLIF as ABC, yosys and dse write it: ``.model``,
``.inputs``/``.outputs``, ``.names`` covers (on-set or off-set, ``-`` don't-cares),
``.gate``/``.subckt`` instances of other models of the file or of cells given as
Verilog modules or by Liberty functions (the Verilog reader's cell machinery), and
yosys' ``.conn``. Each cover becomes one gate where its function is one
(:class:`Op`, any input order, maybe with inverters), else an AND/OR sum of products.
Port bits ``a[0]`` … are grouped into vector ports (:func:`group_bit_ports`). Every
error is one :class:`~dse.errors.NetlistParseError` line starting ``file:line:``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dse.errors import NetlistParseError
from dse.netlist._blif_covers import _cover_gates, _Emitter
from dse.netlist._liberty import Expr
from dse.netlist._netlist import Netlist, Op
from dse.netlist._ports import netlist_from_read_gates
from dse.netlist._verilog_cells import _FuncCell, _liberty_cells, _yosys_cell
from dse.netlist._verilog_elab import _Elaborator
from dse.netlist._verilog_lex import _Source
from dse.netlist._verilog_parse import _Module, _parse_sources, _read

__all__ = ["read_blif", "read_blif_text"]

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------------------------
# Reader: parsing
# ---------------------------------------------------------------------------------------

# Directives that carry names, attributes or timing for other tools, not logic.
_IGNORED = frozenset(
    {
        ".cname", ".attr", ".param",  # yosys write_blif -cname/-attr/-param
        ".area", ".delay", ".wire_load_slope", ".wire", ".input_arrival",
        ".output_required", ".default_input_arrival", ".default_output_required",
        ".input_drive", ".output_load", ".default_input_drive", ".default_output_load",
        ".max_input_load",
    }
)  # fmt: skip
_SEQUENTIAL = frozenset({".latch", ".mlatch", ".clock"})
_READ = ".model .inputs .outputs .names .gate .subckt .conn .blackbox .end"
# BLIF names are any run of non-blank characters; these two are how the readers'
# shared gate list spells constants, so a net really called so is renamed
_CONST_NAMES = frozenset({"1'b0", "1'b1"})


@dataclass
class _Names:
    """A ``.names`` cover: cubes over ``ins``, all on-set (output 1) or all off-set."""

    ins: list[str]
    out: str
    where: str
    cubes: list[str] = field(default_factory=list)
    onset: bool = True


@dataclass
class _Inst:
    """A ``.gate`` or ``.subckt``: ``(pin, net)`` connections of a cell or model."""

    cell: str
    conns: list[tuple[str, str]]
    where: str


@dataclass
class _Conn:
    """yosys' ``.conn source target``: a wire."""

    src: str
    dst: str
    where: str


@dataclass
class _Model:
    name: str
    where: str
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (net, where)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    items: list[_Names | _Inst | _Conn] = field(default_factory=list)
    blackbox: bool = False


def _logical_lines(text: str) -> Iterable[tuple[int, list[str]]]:
    """``(first line number, tokens)`` per statement: comments cut, ``\\`` lines joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        tokens = " ".join(pending).split()
        pending = []
        if tokens:
            yield start, tokens
    if pending:
        tokens = " ".join(pending).split()
        if tokens:
            yield start, tokens


def _parse(text: str, filename: str) -> list[_Model]:
    """The models of one BLIF file, in file order."""
    models: list[_Model] = []
    model: _Model | None = None
    cover: _Names | None = None  # the .names whose rows follow

    def err(line: int, what: str) -> NetlistParseError:
        return NetlistParseError(f"{filename}:{line}: {what}")

    for line, tokens in _logical_lines(text):
        where = f"{filename}:{line}"
        word = tokens[0]
        if not word.startswith("."):
            if cover is None:
                raise err(
                    line,
                    f"unexpected {' '.join(tokens)!r} outside a .names cover; expected a "
                    f"directive ({_READ})",
                )
            n = len(cover.ins)
            if n == 0:
                plane, value = "", tokens[0] if len(tokens) == 1 else "?"
            else:
                plane, value = (tokens[0], tokens[1]) if len(tokens) == 2 else ("?", "?")
            if len(plane) != n or value not in ("0", "1") or plane.strip("01-"):
                raise err(
                    line,
                    f"cover row {' '.join(tokens)!r} does not fit the .names at "
                    f"{cover.where} ({n} input{'s' if n != 1 else ''}); expected "
                    + (f"{n} characters of 0, 1 or - and an output 0 or 1" if n else "1 or 0"),
                )
            onset = value == "1"
            if cover.cubes and cover.onset != onset:
                raise err(
                    line,
                    f"cover row output {value} after rows with output {1 - int(value)}; "
                    f"expected one polarity per .names (all 1: on-set, all 0: off-set)",
                )
            cover.onset = onset
            cover.cubes.append(plane)
            continue
        cover = None
        if word in _IGNORED:
            continue
        if word == ".model":
            model = _Model(tokens[1] if len(tokens) > 1 else Path(filename).stem, where)
            models.append(model)
            continue
        if word in _SEQUENTIAL:
            raise err(
                line,
                f"{word}: sequential logic; dse reads combinational netlists only "
                f"(a multiplier without registers)",
            )
        if word == ".exdc":
            raise err(line, ".exdc (an external don't-care network) is not supported")
        if word not in _READ.split():
            raise err(line, f"unsupported BLIF directive {word!r}; expected one of {_READ}")
        if model is None:
            if word == ".end":
                raise err(line, ".end without a .model")
            # a file may leave .model out: one model, named after the file
            model = _Model(Path(filename).stem, where)
            models.append(model)
        if word == ".end":
            model = None
        elif word == ".inputs":
            model.inputs.extend((t, where) for t in tokens[1:])
        elif word == ".outputs":
            model.outputs.extend((t, where) for t in tokens[1:])
        elif word == ".blackbox":
            model.blackbox = True
        elif word == ".names":
            if len(tokens) < 2:
                raise err(line, ".names without nets; expected '.names [inputs ...] output'")
            cover = _Names(tokens[1:-1], tokens[-1], where)
            model.items.append(cover)
        elif word == ".conn":
            if len(tokens) != 3:
                raise err(line, ".conn takes two nets (source, target)")
            model.items.append(_Conn(tokens[1], tokens[2], where))
        else:  # .gate / .subckt
            if len(tokens) < 2:
                raise err(line, f"{word} without a cell name; expected '{word} CELL PIN=NET ...'")
            conns: list[tuple[str, str]] = []
            for t in tokens[2:]:
                formal, eq, actual = t.partition("=")
                if not eq or not formal or not actual:
                    raise err(line, f"{word} {tokens[1]}: connection {t!r}; expected PIN=NET")
                conns.append((formal, actual))
            model.items.append(_Inst(tokens[1], conns, where))
    return models


# ---------------------------------------------------------------------------------------
# Reader: hierarchy and cells
# ---------------------------------------------------------------------------------------


@dataclass
class _Template:
    """A cell's gates over placeholder pin nets, elaborated once per cell type."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    gates: list[tuple[str, Op | int, list[str]]]


def _pin_in(pin: str) -> str:
    return f" in {pin}"


def _pin_out(pin: str) -> str:
    return f" out {pin}"


class _Elab:
    def __init__(
        self,
        models: Mapping[str, _Model],
        modules: Mapping[str, object],
        func_cells: Mapping[str, object],
    ) -> None:
        self.models = models
        self.modules = modules
        self.func_cells = func_cells
        self.gates: list[tuple[str, Op | int, list[str], str]] = []
        self.em = _Emitter(self.gates)
        self.templates: dict[str, _Template] = {}
        self.stack: list[str] = []
        self.k = 0

    @staticmethod
    def net(prefix: str, name: str) -> str:
        if not prefix and name in _CONST_NAMES:
            return name + " "
        return prefix + name

    def model(self, m: _Model, prefix: str) -> None:
        if m.name in self.stack:
            raise NetlistParseError(
                f"{m.where}: model {m.name!r} instantiates itself "
                f"({' -> '.join([*self.stack, m.name])})"
            )
        self.stack.append(m.name)
        for item in m.items:
            if isinstance(item, _Names):
                _cover_gates(
                    self.em,
                    [self.net(prefix, n) for n in item.ins],
                    self.net(prefix, item.out),
                    item.cubes,
                    item.onset,
                    item.where,
                )
            elif isinstance(item, _Conn):
                self.gates.append(
                    (self.net(prefix, item.dst), Op.BUF, [self.net(prefix, item.src)], item.where)
                )
            else:
                self.instance(item.cell, item.conns, prefix, item.where)
        self.stack.pop()

    def instance(self, cell: str, conns: list[tuple[str, str]], prefix: str, where: str) -> None:
        self.k += 1
        inner = f"{prefix}{cell}#{self.k} "  # a blank: never a BLIF name
        sub = self.models.get(cell)
        if sub is not None and not sub.blackbox:
            ins = [n for n, _ in sub.inputs]
            outs = [n for n, _ in sub.outputs]
        else:
            t = self.template(cell, where)
            ins, outs = list(t.inputs), list(t.outputs)
        pins = [*ins, *outs]
        named: dict[str, str] = {}
        for formal, actual in conns:
            if formal not in pins:
                raise NetlistParseError(
                    f"{where}: {cell} has no pin {formal!r}; expected one of {' '.join(pins)}"
                )
            if formal in named:
                raise NetlistParseError(f"{where}: pin {formal!r} of {cell} is connected twice")
            named[formal] = self.net(prefix, actual)
        for pin in ins:
            if pin not in named:
                raise NetlistParseError(f"{where}: input pin {pin!r} of {cell} is not connected")
        if sub is not None and not sub.blackbox:
            for pin in ins:
                self.gates.append((self.net(inner, pin), Op.BUF, [named[pin]], where))
            for pin in outs:
                if pin in named:
                    self.gates.append((named[pin], Op.BUF, [self.net(inner, pin)], where))
            self.model(sub, inner)
            return
        rename = {_pin_in(p): named[p] for p in ins}
        rename.update({_pin_out(p): named.get(p, inner + p) for p in outs})
        rename.update({c: c for c in _CONST_NAMES})
        for out, op, gins in t.gates:
            self.gates.append(
                (
                    rename.get(out) or inner + out,
                    op,
                    [rename.get(n) or inner + n for n in gins],
                    where,
                )
            )

    def template(self, cell: str, where: str) -> _Template:
        """The gates of a cell defined outside the BLIF models (cached per cell type)."""
        t = self.templates.get(cell)
        if t is not None:
            return t
        el = _Elaborator(self.modules, self.func_cells)  # type: ignore[arg-type]
        mod = self.modules.get(cell)
        if isinstance(mod, _Module):
            # a Verilog cell module: inline it with its pins tied to placeholder nets
            scope = _Module("<blif>", _Source("", where), 0)
            conns: dict[str, Expr | None] = {}
            ins: list[str] = []
            outs: list[str] = []
            for port in mod.ports:
                decl = mod.decls[port]
                bits = decl.bit_names(port)  # BLIF pins of a vector port: A[0], A[1] ...
                is_in = decl.kind == "input"
                (ins if is_in else outs).extend(bits)
                holders = [(_pin_in if is_in else _pin_out)(b) for b in bits]
                conns[port] = (
                    ("id", holders[0], 0)
                    if len(bits) == 1 and decl.msb is None
                    else ("cat", [("id", h, 0) for h in reversed(holders)])
                )
            el._inline_module(mod, " cell", conns, scope, "", where, 0)
            t = _Template(tuple(ins), tuple(outs), [(g[0], g[1], list(g[2])) for g in el.gates])
        else:
            fc = self.func_cells.get(cell) or _yosys_cell(cell[1:] if cell[:1] == "\\" else cell)
            if not isinstance(fc, _FuncCell) and cell.startswith("$"):
                raise NetlistParseError(
                    f"{where}: instance of yosys word-level cell {cell!r}; expected gates "
                    f"(map it first, e.g. yosys 'techmap' or 'synth' before write_blif)"
                )
            if not isinstance(fc, _FuncCell):
                raise NetlistParseError(
                    f"{where}: instance of unknown cell {cell!r}; expected a .model of the "
                    f"BLIF file(s), a Verilog cell module (cells=, --cells) or a Liberty "
                    f"cell (liberty=, --liberty)"
                )
            env = {pin: _pin_in(pin) for pin in fc.inputs}
            for pin, f in fc.functions.items():
                el.temps.clear()
                el.drive([_pin_out(pin)], el._eval_func(f, env, where), where)
            t = _Template(
                tuple(fc.inputs),
                tuple(fc.functions),
                [(g[0], g[1], list(g[2])) for g in el.gates],
            )
        self.templates[cell] = t
        return t


# ---------------------------------------------------------------------------------------
# Reader: entry points
# ---------------------------------------------------------------------------------------


def _pick_top(models: Sequence[_Model], top: str | None, source: str) -> _Model:
    by_name = {m.name: m for m in models}
    if top is not None:
        if top not in by_name:
            raise NetlistParseError(
                f"{source}: top model {top!r} is not defined; expected one of {sorted(by_name)}"
            )
        return by_name[top]
    logic = [m for m in models if not m.blackbox]
    if not logic:
        raise NetlistParseError(f"{source}: no .model with logic; expected a BLIF netlist")
    used = {it.cell for m in models for it in m.items if isinstance(it, _Inst)}
    roots = [m for m in logic if m.name not in used]
    # several roots: the first model is the top, as in SIS and ABC
    return roots[0] if roots else logic[0]


def _models(sources: Sequence[tuple[str, str]]) -> dict[str, _Model]:
    models: dict[str, _Model] = {}
    for text, filename in sources:
        for m in _parse(text, filename):
            old = models.get(m.name)
            if old is not None:
                raise NetlistParseError(
                    f"{m.where}: model {m.name!r} is defined twice (first at {old.where})"
                )
            models[m.name] = m
    return models


def _build(
    sources: Sequence[tuple[str, str]],
    cells: Iterable[PathLike],
    liberty: PathLike | None,
    top: str | None,
) -> Netlist:
    models = _models(sources)
    top_model = _pick_top(list(models.values()), top, sources[0][1] if sources else "<blif>")
    cell_srcs = [(_read(Path(p)), os.fspath(p)) for p in cells]
    modules = _parse_sources([], cell_srcs)[0] if cell_srcs else {}
    func_cells = _liberty_cells(liberty) if liberty is not None else {}
    el = _Elab(models, modules, func_cells)
    el.model(top_model, "")
    for ports in (top_model.inputs, top_model.outputs):
        seen: dict[str, str] = {}  # an output may also be an input: a wire through
        for name, where in ports:
            if name in seen:
                raise NetlistParseError(
                    f"{where}: port {name!r} is listed twice (first at {seen[name]})"
                )
            seen[name] = where
    driven = {g[0] for g in el.gates} | {el.net("", n) for n, _ in top_model.inputs}
    for name, where in top_model.outputs:
        if el.net("", name) not in driven:
            raise NetlistParseError(
                f"{where}: output {name!r} of model {top_model.name!r} is never driven"
            )
    return netlist_from_read_gates(
        top_model.name,
        [(n, [el.net("", n)]) for n, _ in top_model.inputs],
        [(n, [el.net("", n)]) for n, _ in top_model.outputs],
        el.gates,
    )


def read_blif_text(
    text: str,
    *,
    filename: str = "<string>",
    cells: Iterable[PathLike] = (),
    liberty: PathLike | None = None,
    top: str | None = None,
) -> Netlist:
    """:func:`read_blif` on BLIF text (``filename`` is used in messages)."""
    return _build([(text, filename)], cells, liberty, top)


def read_blif(
    paths: PathLike | Iterable[PathLike],
    *,
    cells: Iterable[PathLike] = (),
    liberty: PathLike | None = None,
    top: str | None = None,
) -> Netlist:
    """Read a combinational BLIF netlist and flatten it into a :class:`Netlist`.

    Args:
        paths: one BLIF file or several; their ``.model`` s can instantiate each other
            with ``.subckt``.
        cells: Verilog files defining the cells of ``.gate``/``.subckt`` lines that are
            not models of ``paths`` (as for :func:`~dse.netlist.read_verilog`).
        liberty: a Liberty file whose cells' ``function`` attributes define such cells.
        top: the top model; by default the first model that no other instantiates.

    Returns:
        The netlist with the top model's inputs as ports in order (1-bit ports named
        ``a[0]`` …, ``a_0`` … or ``a0`` … grouped into vector ports, so the first two
        are the operands) and its outputs likewise (the first is the product).

    Raises:
        NetlistParseError: unreadable or unsupported input (``.latch``, an unknown
            directive or cell, a malformed cover row), an undriven output, a net read
            but never driven or driven twice, a combinational loop; the message starts
            with ``file:line``.
    """
    items = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    sources = []
    for p in items:
        try:
            sources.append((p.read_text(errors="replace"), str(p)))
        except OSError as e:
            raise NetlistParseError(f"{p}: cannot read BLIF file: {e.strerror}") from e
    return _build(sources, cells, liberty, top)
