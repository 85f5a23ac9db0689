"""Structural Verilog: a writer for :class:`Netlist` and a reader for gate-level netlists.

The writer emits one continuous ``assign`` per gate (``style="assign"``) or one Verilog
gate primitive per gate (``style="gates"``); both are accepted by yosys and Icarus.

The reader takes gate-level netlists as approximate-multiplier libraries ship them
(EvoApprox8b, ArithsGen, yosys ``write_verilog``): modules with ANSI or non-ANSI ports,
``input``/``output``/``wire`` vectors, continuous assignments over ``~ & | ^`` (also
``~& ~| ~^``, reductions, ``?:``, ``!``/``&&``/``||`` on single bits), bit and part
selects, concatenations and replications, sized constants, gate primitives, and
instances of cells defined as Verilog modules, as yosys internal gates (``$_AND_``
...), or by the ``function`` of a Liberty cell. Hierarchy is flattened. Behavioural
code (``always``, ``reg``, arithmetic operators, ``generate``) raises
:class:`~dse.errors.NetlistParseError` with ``file:line``.

A hand-written tokenizer (one regular expression) and a recursive-descent parser keep
an 8×8 file to a few milliseconds. Within one expression, chains and inversions are
fused back into the netlist's richer gates (``~(a & b)`` → NAND, ``a ^ b ^ c`` →
XOR3, ``(a & b) | (a & c) | (b & c)`` → MAJ, ``~((a & b) | c)`` → AOI21, ``s ? b : a``
→ MUX), so a netlist written by :func:`write_verilog` reads back gate for gate.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dse.errors import DataError, NetlistError, NetlistParseError
from dse.netlist._liberty import (
    Expr,
    liberty_pin_groups,
    parse_liberty_function,
    parse_liberty_text,
    read_liberty_text,
)
from dse.netlist._netlist import ARITY, Netlist, Op
from dse.netlist._ports import netlist_from_read_gates

__all__ = ["read_verilog", "read_verilog_text", "scan_module_ports", "write_verilog"]

PathLike = str | os.PathLike[str]

# ---------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------

_SIMPLE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
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


_ASSIGN_FMT: dict[Op, str] = {
    Op.BUF: "{0}",
    Op.INV: "~{0}",
    Op.AND: "{0} & {1}",
    Op.OR: "{0} | {1}",
    Op.XOR: "{0} ^ {1}",
    Op.NAND: "~({0} & {1})",
    Op.NOR: "~({0} | {1})",
    Op.XNOR: "~({0} ^ {1})",
    Op.AND3: "{0} & {1} & {2}",
    Op.OR3: "{0} | {1} | {2}",
    Op.NAND3: "~({0} & {1} & {2})",
    Op.NOR3: "~({0} | {1} | {2})",
    Op.XOR3: "{0} ^ {1} ^ {2}",
    Op.XNOR3: "~({0} ^ {1} ^ {2})",
    Op.MAJ: "({0} & {1}) | ({0} & {2}) | ({1} & {2})",
    Op.MUX: "{2} ? {1} : {0}",
    Op.AOI21: "~(({0} & {1}) | {2})",
    Op.OAI21: "~(({0} | {1}) & {2})",
    Op.AOI22: "~(({0} & {1}) | ({2} & {3}))",
    Op.OAI22: "~(({0} | {1}) & ({2} | {3}))",
}

# Gate primitives for style="gates": (primitive, ins) steps; "t<k>" names a temporary,
# "o" the gate's output, digits the gate's inputs.
_PRIM_STEPS: dict[Op, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    Op.BUF: (("buf", "o", ("0",)),),
    Op.INV: (("not", "o", ("0",)),),
    Op.AND: (("and", "o", ("0", "1")),),
    Op.OR: (("or", "o", ("0", "1")),),
    Op.XOR: (("xor", "o", ("0", "1")),),
    Op.NAND: (("nand", "o", ("0", "1")),),
    Op.NOR: (("nor", "o", ("0", "1")),),
    Op.XNOR: (("xnor", "o", ("0", "1")),),
    Op.AND3: (("and", "o", ("0", "1", "2")),),
    Op.OR3: (("or", "o", ("0", "1", "2")),),
    Op.NAND3: (("nand", "o", ("0", "1", "2")),),
    Op.NOR3: (("nor", "o", ("0", "1", "2")),),
    Op.XOR3: (("xor", "t0", ("0", "1")), ("xor", "o", ("t0", "2"))),
    Op.XNOR3: (("xor", "t0", ("0", "1")), ("xnor", "o", ("t0", "2"))),
    Op.MAJ: (
        ("and", "t0", ("0", "1")),
        ("and", "t1", ("0", "2")),
        ("and", "t2", ("1", "2")),
        ("or", "o", ("t0", "t1", "t2")),
    ),
    Op.MUX: (
        ("not", "t0", ("2",)),
        ("and", "t1", ("0", "t0")),
        ("and", "t2", ("1", "2")),
        ("or", "o", ("t1", "t2")),
    ),
    Op.AOI21: (("and", "t0", ("0", "1")), ("nor", "o", ("t0", "2"))),
    Op.OAI21: (("or", "t0", ("0", "1")), ("nand", "o", ("t0", "2"))),
    Op.AOI22: (("and", "t0", ("0", "1")), ("and", "t1", ("2", "3")), ("nor", "o", ("t0", "t1"))),
    Op.OAI22: (("or", "t0", ("0", "1")), ("or", "t1", ("2", "3")), ("nand", "o", ("t0", "t1"))),
}


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
    ops = [Op(o) for o in netlist.ops.tolist()]
    fanin = netlist.fanin.tolist()
    lines = [f"// {netlist.name}: {netlist.gate_count} gates, written by dse.netlist.write_verilog"]
    decls = [f"  input  [{w - 1}:0] {_vid(p)}" for p, w in netlist.input_ports]
    decls += [f"  output [{max(len(nets), 1) - 1}:0] {_vid(p)}" for p, nets in netlist.output_ports]
    lines.append(f"module {name} (")
    lines.append(",\n".join(decls))
    lines.append(");")
    body: list[str] = []
    for g, op in enumerate(ops):
        if op in (Op.CONST0, Op.CONST1):
            continue
        net = n_in + g
        lines.append(f"  wire {refs[net]};")
        ins = [refs[f] for f in fanin[g][: ARITY[op]]]
        if style == "assign":
            body.append(f"  assign {refs[net]} = {_ASSIGN_FMT[op].format(*ins)};")
            continue
        steps = _PRIM_STEPS[op]
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


# ---------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------

# One match per token: group 1 is what is skipped before it (white space, comments,
# attributes), group 2 the token. ``findall`` does the scanning in C; the catch-all ``.``
# keeps matches contiguous, so offsets follow from the lengths.
_TOKEN_RE = re.compile(
    r"""
    ((?:\s+|//[^\n]*|/\*.*?\*/|\(\*(?!\s*\)).*?\*\))*)
    (`[A-Za-z_]\w*[^\n]*
    |\d[\d_]*\s*'\s*[sS]?[bBoOdDhH]\s*[0-9a-fA-FxXzZ?_]+|'[sS]?[bBoOdDhH][0-9a-fA-FxXzZ?_]+|\d[\d_]*
    |[A-Za-z_][A-Za-z0-9_$]*
    |\\\S+
    |"(?:[^"\\\n]|\\.)*"
    |===|!==|~&|~\||~\^|\^~|&&|\|\||==|!=|<=|>=|<<|>>|\*\*|[-+*/%<>!~&|^?:;,.=\#@(){}\[\]]
    |.)
    """,
    re.S | re.X,
)
_OPS = frozenset(
    [
        "===",
        "!==",
        "~&",
        "~|",
        "~^",
        "^~",
        "&&",
        "||",
        "==",
        "!=",
        "<=",
        ">=",
        "<<",
        ">>",
        "**",
        "-",
        "+",
        "*",
        "/",
        "%",
        "<",
        ">",
        "!",
        "~",
        "&",
        "|",
        "^",
        "?",
        ":",
        ";",
        ",",
        ".",
        "=",
        "#",
        "@",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
    ]
)
_FIRST_KIND = {c: "id" for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"}
_FIRST_KIND.update({c: "num" for c in "0123456789'"})
_FIRST_KIND.update({"\\": "esc", "`": "dir", '"': "str"})

_IGNORED_DIRECTIVES = frozenset(
    {
        "`timescale",
        "`default_nettype",
        "`celldefine",
        "`endcelldefine",
        "`resetall",
        "`nounconnected_drive",
        "`unconnected_drive",
    }
)

Tok = tuple[str, str, int]  # (kind, text, offset)


class _Source:
    """One file's text, its tokens and a line lookup for error messages."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self._newlines: list[int] | None = None
        self.tokens = self._tokenize()

    def line(self, pos: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, pos) + 1

    def where(self, pos: int) -> str:
        return f"{self.filename}:{self.line(pos)}"

    def error(self, pos: int, what: str, expected: str = "") -> NetlistParseError:
        msg = f"{self.where(pos)}: {what}"
        if expected:
            msg += f"; expected {expected}"
        return NetlistParseError(msg)

    def _tokenize(self) -> list[Tok]:
        toks: list[Tok] = []
        append = toks.append
        text = self.text
        pos = 0
        kinds = _FIRST_KIND
        ops = _OPS
        for skip, tok in _TOKEN_RE.findall(text):
            pos += len(skip)
            kind = kinds.get(tok[0], "op")
            if kind == "id" or kind == "num":
                append((kind, tok, pos))
            elif kind == "op":
                if tok not in ops:
                    if tok.isspace():  # trailing white space, given back by the skip group
                        pos += len(tok)
                        continue
                    if tok == "/" and text.startswith("/*", pos):
                        raise self.error(pos, "unterminated /* comment")
                    raise self.error(pos, f"unexpected character {tok!r}")
                append(("op", tok, pos))
            elif kind == "esc":
                body = tok[1:]
                append(("id", body if _SIMPLE_ID.match(body) else tok, pos))
            elif kind == "dir":
                # a directive runs to the end of its line
                word = tok.split(None, 1)[0]
                if word not in _IGNORED_DIRECTIVES:
                    raise self.error(
                        pos,
                        f"compiler directive {word} is not supported",
                        "a preprocessed gate-level netlist (only `timescale and the like are ignored)",
                    )
            else:
                append(("str", tok, pos))
            pos += len(tok)
        toks.extend([("eof", "", len(text))] * 4)
        return toks


# ---------------------------------------------------------------------------------------
# Parser: modules → declarations and items (expressions as tuples)
# ---------------------------------------------------------------------------------------


_PRIMITIVES = {"and", "or", "xor", "nand", "nor", "xnor", "not", "buf"}
_UNSUPPORTED_ITEMS = {
    "always": "an always block (behavioural logic)",
    "always_comb": "an always_comb block (behavioural logic)",
    "always_ff": "an always_ff block (behavioural logic)",
    "always_latch": "an always_latch block (behavioural logic)",
    "initial": "an initial block",
    "reg": "a reg declaration (behavioural storage)",
    "logic": "a logic declaration",
    "integer": "an integer declaration",
    "real": "a real declaration",
    "genvar": "a genvar declaration",
    "generate": "a generate block",
    "for": "a for loop",
    "if": "an if statement",
    "case": "a case statement",
    "function": "a function",
    "task": "a task",
    "defparam": "a defparam",
    "specify": "a specify block",
    "inout": "an inout port",
    "wand": "a wand net",
    "wor": "a wor net",
    "trireg": "a trireg net",
    "bufif0": "a bufif0 primitive",
    "bufif1": "a bufif1 primitive",
    "notif0": "a notif0 primitive",
    "notif1": "a notif1 primitive",
    "pullup": "a pullup primitive",
    "pulldown": "a pulldown primitive",
    "primitive": "a user-defined primitive",
}
_ARITH_OPS = {
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "<<",
    ">>",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "===",
    "!==",
}
_BINARY_PREC = {"||": 1, "&&": 2, "|": 3, "^": 4, "~^": 4, "^~": 4, "&": 5}
_NET_KINDS = {"wire", "tri", "tri0", "tri1", "uwire", "supply0", "supply1"}


@dataclass
class _Decl:
    kind: str  # "input" / "output" / "wire" / "supply0" / "supply1"
    msb: int | None
    lsb: int | None
    pos: int

    @property
    def width(self) -> int:
        if self.msb is None or self.lsb is None:
            return 1
        return abs(self.msb - self.lsb) + 1

    def bit_names(self, name: str) -> list[str]:
        """Net names of the bits, LSB (the right-hand index) first."""
        if self.msb is None or self.lsb is None:
            return [name]
        step = 1 if self.msb >= self.lsb else -1
        return [f"{name}[{i}]" for i in range(self.lsb, self.msb + step, step)]


@dataclass
class _Module:
    name: str
    src: _Source
    pos: int
    ports: list[str] = field(default_factory=list)
    decls: dict[str, _Decl] = field(default_factory=dict)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    params: dict[str, int] = field(default_factory=dict)
    from_cells: bool = False

    @property
    def where(self) -> str:
        return self.src.where(self.pos)


class _Parser:
    def __init__(self, src: _Source) -> None:
        self.src = src
        self.toks = src.tokens
        self.i = 0
        self.mod: _Module | None = None

    # -- token helpers -------------------------------------------------------------
    def peek(self, k: int = 0) -> Tok:
        return self.toks[self.i + k]  # the token list ends with several "eof" tokens

    def next(self) -> Tok:
        t = self.toks[self.i]
        if t[0] != "eof":
            self.i += 1
        return t

    def accept(self, text: str) -> bool:
        t = self.toks[self.i]
        if t[1] == text and t[0] != "str":
            self.i += 1
            return True
        return False

    def expect(self, text: str, what: str = "") -> Tok:
        t = self.toks[self.i]
        if t[1] != text or t[0] == "str":
            raise self.src.error(t[2], f"found {self._desc(t)}{what}", f"'{text}'")
        self.i += 1
        return t

    def ident(self, what: str = "an identifier") -> Tok:
        t = self.toks[self.i]
        if t[0] != "id":
            raise self.src.error(t[2], f"found {self._desc(t)}", what)
        self.i += 1
        return t

    @staticmethod
    def _desc(t: Tok) -> str:
        return "end of file" if t[0] == "eof" else f"{t[1]!r}"

    def unsupported(self, t: Tok, what: str) -> NetlistParseError:
        return self.src.error(
            t[2], f"unsupported construct: {what} ({t[1]!r})", "a structural gate-level netlist"
        )

    # -- file ----------------------------------------------------------------------
    def parse_file(self) -> list[_Module]:
        mods: list[_Module] = []
        while True:
            t = self.peek()
            if t[0] == "eof":
                return mods
            if t[1] in ("module", "macromodule") and t[0] == "id":
                mods.append(self.parse_module())
            elif t[1] in _UNSUPPORTED_ITEMS and t[0] == "id":
                raise self.unsupported(t, _UNSUPPORTED_ITEMS[t[1]])
            else:
                raise self.src.error(t[2], f"found {self._desc(t)} outside a module", "'module'")

    def parse_module(self) -> _Module:
        self.next()
        name_tok = self.ident("a module name")
        mod = _Module(name_tok[1], self.src, name_tok[2])
        self.mod = mod
        if self.accept("#"):
            self.expect("(")
            while not self.accept(")"):
                if self.accept(","):
                    continue
                self.parse_param_decl(in_header=True)
        if self.accept("("):
            self.parse_port_list(mod)
        self.expect(";", " after the module header")
        while True:
            t = self.peek()
            if t[0] == "eof":
                raise self.src.error(t[2], f"module {mod.name!r} is not closed", "'endmodule'")
            if t[1] == "endmodule" and t[0] == "id":
                self.next()
                break
            self.parse_item(mod)
        for p in mod.ports:
            if p not in mod.decls or mod.decls[p].kind not in ("input", "output"):
                raise self.src.error(
                    mod.pos,
                    f"port {p!r} of module {mod.name!r} has no direction",
                    "an input or output declaration",
                )
        self.mod = None
        return mod

    def parse_port_list(self, mod: _Module) -> None:
        if self.accept(")"):
            return
        direction: str | None = None
        rng: tuple[int | None, int | None] = (None, None)
        while True:
            t = self.peek()
            if t[0] == "id" and t[1] in ("input", "output", "inout"):
                if t[1] == "inout":
                    raise self.unsupported(t, _UNSUPPORTED_ITEMS["inout"])
                self.next()
                direction = t[1]
                self._skip_net_type()
                rng = self.parse_range_opt()
            elif t[0] == "op" and t[1] == ".":
                raise self.unsupported(t, "an explicit port expression .name(...)")
            name = self.ident("a port name")
            if name[1] in mod.ports:
                raise self.src.error(name[2], f"port {name[1]!r} is listed twice")
            mod.ports.append(name[1])
            if direction is not None:
                mod.decls[name[1]] = _Decl(direction, rng[0], rng[1], name[2])
            if self.accept(")"):
                return
            self.expect(",", " in the port list")

    def _skip_net_type(self) -> None:
        t = self.peek()
        if t[0] == "id" and t[1] in ("reg", "logic"):
            raise self.unsupported(t, _UNSUPPORTED_ITEMS[t[1]])
        if t[0] == "id" and t[1] in ("wire", "tri", "uwire"):
            self.next()
        if self.peek()[1] in ("signed", "unsigned"):
            self.next()

    def parse_range_opt(self) -> tuple[int | None, int | None]:
        if not self.accept("["):
            return (None, None)
        msb = self.const_expr()
        self.expect(":", " in a range")
        lsb = self.const_expr()
        self.expect("]")
        return (msb, lsb)

    # -- constant integer expressions (ranges, indices, parameters) -------------------
    def const_expr(self) -> int:
        return self._cadd()

    def _cadd(self) -> int:
        v = self._cmul()
        while self.peek()[1] in ("+", "-"):
            op = self.next()[1]
            r = self._cmul()
            v = v + r if op == "+" else v - r
        return v

    def _cmul(self) -> int:
        v = self._cun()
        while self.peek()[1] in ("*", "/", "%"):
            t = self.next()
            r = self._cun()
            if t[1] == "*":
                v *= r
            elif r == 0:
                raise self.src.error(t[2], "division by zero in a constant expression")
            else:
                v = v // r if t[1] == "/" else v % r
        return v

    def _cun(self) -> int:
        t = self.next()
        if t[1] == "-":
            return -self._cun()
        if t[1] == "+":
            return self._cun()
        if t[1] == "(":
            v = self.const_expr()
            self.expect(")")
            return v
        if t[0] == "num":
            return self._number(t)[1]
        if t[0] == "id":
            params = self.mod.params if self.mod else {}
            if t[1] in params:
                return params[t[1]]
            raise self.src.error(
                t[2],
                f"cannot resolve {t[1]!r} in a constant expression",
                "an integer or a parameter",
            )
        raise self.src.error(t[2], f"found {self._desc(t)} in a constant expression", "an integer")

    def _number(self, t: Tok) -> tuple[int, int]:
        """(width, value) of a number token; width -1 for unsized decimals."""
        s = t[1].replace("_", "").replace(" ", "")
        if "'" not in s:
            return (-1, int(s))
        size, rest = s.split("'", 1)
        if rest[:1] in ("s", "S"):
            rest = rest[1:]
        base = {"b": 2, "o": 8, "d": 10, "h": 16}[rest[0].lower()]
        digits = rest[1:]
        if re.search(r"[xXzZ?]", digits):
            raise self.src.error(t[2], f"constant {t[1]!r} has x/z bits", "a constant of 0/1 bits")
        value = int(digits, base)
        width = int(size) if size else 32
        return (width, value & ((1 << width) - 1))

    # -- module items ---------------------------------------------------------------
    def parse_param_decl(self, in_header: bool = False) -> None:
        t = self.peek()
        if t[1] in ("parameter", "localparam"):
            self.next()
        if self.peek()[1] in ("integer", "signed", "unsigned"):
            self.next()
        self.parse_range_opt()
        assert self.mod is not None
        while True:
            name = self.ident("a parameter name")
            self.expect("=")
            self.mod.params[name[1]] = self.const_expr()
            if in_header:
                # in #( ... ) a comma may introduce the next parameter with its keyword
                if self.peek()[1] == "," and self.peek(1)[1] in ("parameter", "localparam"):
                    return
                if self.peek()[1] == ")":
                    return
                self.expect(",")
                continue
            if self.accept(";"):
                return
            self.expect(",", " in a parameter declaration")

    def parse_item(self, mod: _Module) -> None:
        t = self.peek()
        kw = t[1] if t[0] == "id" else ""
        if t[0] == "op" and t[1] == ";":
            self.next()
            return
        if kw in ("input", "output"):
            self.next()
            self._skip_net_type()
            rng = self.parse_range_opt()
            for name in self._name_list():
                old = mod.decls.get(name[1])
                if name[1] not in mod.ports:
                    raise self.src.error(
                        name[2], f"{kw} {name[1]!r} is not in the port list of module {mod.name!r}"
                    )
                if old is not None and old.kind in ("input", "output"):
                    raise self.src.error(name[2], f"port {name[1]!r} is declared twice")
                mod.decls[name[1]] = _Decl(kw, rng[0], rng[1], name[2])
            return
        if kw in _NET_KINDS:
            self.next()
            if self.peek()[1] in ("signed", "unsigned", "scalared", "vectored"):
                self.next()
            rng = self.parse_range_opt()
            while True:
                name = self.ident("a net name")
                old = mod.decls.get(name[1])
                if old is None:
                    kind = kw if kw.startswith("supply") else "wire"
                    mod.decls[name[1]] = _Decl(kind, rng[0], rng[1], name[2])
                elif (
                    old.kind in ("input", "output")
                    and rng != (None, None)
                    and (old.msb, old.lsb) != rng
                ):
                    raise self.src.error(
                        name[2], f"net {name[1]!r} is redeclared with another range"
                    )
                elif old.kind not in ("input", "output"):
                    raise self.src.error(name[2], f"net {name[1]!r} is declared twice")
                if kw.startswith("supply"):
                    mod.items.append(("supply", name[1], 1 if kw == "supply1" else 0, name[2]))
                if self.accept("="):
                    rhs = self.expr()
                    mod.items.append(("assign", ("id", name[1], name[2]), rhs, name[2]))
                if self.accept(";"):
                    return
                self.expect(",", " in a net declaration")
        if kw in ("parameter", "localparam"):
            self.parse_param_decl()
            return
        if kw == "assign":
            self.next()
            while True:
                lhs = self.expr()
                eq = self.expect("=", " in a continuous assignment")
                rhs = self.expr()
                mod.items.append(("assign", lhs, rhs, eq[2]))
                if self.accept(";"):
                    return
                self.expect(",", " or ';' after an assignment")
        if kw in _PRIMITIVES:
            self.parse_primitive(mod)
            return
        if kw in _UNSUPPORTED_ITEMS:
            raise self.unsupported(t, _UNSUPPORTED_ITEMS[kw])
        if t[0] == "id":
            self.parse_instance(mod)
            return
        raise self.src.error(t[2], f"found {self._desc(t)}", "a declaration, assign, or instance")

    def _name_list(self) -> list[Tok]:
        names = [self.ident("a name")]
        while self.accept(","):
            names.append(self.ident("a name"))
        self.expect(";", " after a declaration")
        return names

    def _skip_delay(self) -> None:
        if self.accept("#"):
            if self.accept("("):
                depth = 1
                while depth:
                    t = self.next()
                    if t[0] == "eof":
                        raise self.src.error(t[2], "unterminated delay", "')'")
                    depth += (t[1] == "(") - (t[1] == ")")
            else:
                self.next()

    def parse_primitive(self, mod: _Module) -> None:
        prim = self.next()
        if self.peek()[1] == "(" and self.peek(1)[1] in (
            "strong0",
            "strong1",
            "weak0",
            "weak1",
            "pull0",
            "pull1",
            "supply0",
            "supply1",
            "highz0",
            "highz1",
        ):
            self._skip_delay_parens()
        self._skip_delay()
        while True:
            inst = ""
            if self.peek()[0] == "id":
                inst = self.next()[1]
                if self.peek()[1] == "[":
                    raise self.unsupported(self.peek(), "an array of instances")
            lp = self.expect("(", f" after {prim[1]!r}")
            terms = [self.expr()]
            while self.accept(","):
                terms.append(self.expr())
            self.expect(")")
            n_min = 2 if prim[1] in ("not", "buf") else 3
            if len(terms) < n_min:
                raise self.src.error(
                    lp[2],
                    f"{prim[1]} primitive {inst or ''} has {len(terms)} terminals",
                    f"at least {n_min}",
                )
            mod.items.append(("prim", prim[1], terms, prim[2]))
            if self.accept(";"):
                return
            self.expect(",", " or ';' after a primitive instance")

    def _skip_delay_parens(self) -> None:
        self.expect("(")
        while not self.accept(")"):
            if self.next()[0] == "eof":
                raise self.src.error(self.peek()[2], "unterminated drive strength", "')'")

    def parse_instance(self, mod: _Module) -> None:
        cell = self.next()
        if self.peek()[1] == "#":
            raise self.unsupported(self.peek(), "parameter overrides on an instance")
        while True:
            inst = self.ident(f"an instance name after {cell[1]!r}")
            if self.peek()[1] == "[":
                raise self.unsupported(self.peek(), "an array of instances")
            lp = self.expect("(", f" after instance {inst[1]!r}")
            conns: dict[str, Expr | None] | list[Expr | None]
            if self.peek()[1] == ".":
                named: dict[str, Expr | None] = {}
                while True:
                    self.expect(".")
                    pin = self.ident("a port name")
                    if pin[1] in named:
                        raise self.src.error(pin[2], f"port {pin[1]!r} is connected twice")
                    self.expect("(", f" after .{pin[1]}")
                    named[pin[1]] = None if self.peek()[1] == ")" else self.expr()
                    self.expect(")")
                    if not self.accept(","):
                        break
                conns = named
            elif self.peek()[1] == ")":
                conns = []
            else:
                pos_list: list[Expr | None] = []
                while True:
                    pos_list.append(None if self.peek()[1] in (",", ")") else self.expr())
                    if not self.accept(","):
                        break
                conns = pos_list
            self.expect(")", " closing the port connections")
            mod.items.append(("inst", cell[1], inst[1], conns, cell[2], lp[2]))
            if self.accept(";"):
                return
            self.expect(",", " or ';' after an instance")

    # -- expressions ----------------------------------------------------------------
    def expr(self) -> Expr:
        c = self._binary(1)
        if self.toks[self.i][1] == "?":
            self.i += 1
            t = self.expr()
            self.expect(":", " in a conditional expression")
            f = self.expr()
            return ("tern", c, t, f)
        return c

    def _binary(self, min_prec: int) -> Expr:
        """Precedence climbing over ``|| && | ^ &`` (all left-associative)."""
        lhs = self._unary()
        toks = self.toks
        while True:
            t = toks[self.i]
            prec = _BINARY_PREC.get(t[1])
            if prec is None or prec < min_prec or t[0] != "op":
                return lhs
            self.i += 1
            rhs = self._binary(prec + 1)
            op = t[1]
            lhs = ("bin", "~^" if op == "^~" else op, lhs, rhs)

    def _unary(self) -> Expr:
        t = self.peek()
        if t[0] == "op" and t[1] in ("~", "!", "&", "|", "^", "~&", "~|", "~^", "^~"):
            self.next()
            e: Expr = ("un", t[1], self._unary())
        elif t[0] == "op" and t[1] in ("-", "+"):
            raise self.unsupported(t, f"the arithmetic operator {t[1]!r}")
        else:
            e = self._primary()
        nt = self.peek()
        if nt[1] == ">>" and e[0] == "const":
            # yosys' LUT idiom for a $lut cell: 4'h8 >> {s1, s0} selects a constant's bit
            self.next()
            e = ("lut", e, self._primary())
            nt = self.peek()
        if nt[0] == "op" and nt[1] in _ARITH_OPS:
            raise self.unsupported(nt, f"the behavioural operator {nt[1]!r}")
        return e

    def _primary(self) -> Expr:
        t = self.next()
        if t[0] == "num":
            w, v = self._number(t)
            return ("const", 32 if w < 0 else w, v)
        if t[0] == "id":
            if t[1] in _UNSUPPORTED_ITEMS or t[1] in ("module", "endmodule", "assign"):
                raise self.src.error(t[2], f"found keyword {t[1]!r} in an expression", "an operand")
            if self.mod is not None and t[1] in self.mod.params:
                return ("const", 32, self.mod.params[t[1]] & 0xFFFFFFFF)
            toks = self.toks
            if toks[self.i][1] == "[":
                a, b = toks[self.i + 1], toks[self.i + 2]
                if a[0] == "num" and b[1] == "]" and a[1].isdigit():
                    self.i += 3
                    return ("bit", t[1], int(a[1]), t[2])
                self.i += 1
                hi = self.const_expr()
                if self.accept(":"):
                    lo = self.const_expr()
                    self.expect("]")
                    return ("part", t[1], hi, lo, t[2])
                if self.peek()[1] in ("+:", "-:"):
                    raise self.unsupported(self.peek(), "an indexed part select")
                self.expect("]")
                return ("bit", t[1], hi, t[2])
            if self.peek()[1] == "(":
                raise self.unsupported(t, "a function call")
            return ("id", t[1], t[2])
        if t[1] == "(":
            e = self.expr()
            self.expect(")", " closing a parenthesis")
            return e
        if t[1] == "{":
            first = self.expr()
            if self.peek()[1] == "{":
                # replication {n{...}}
                if first[0] != "const":
                    raise self.src.error(t[2], "replication count is not a constant", "an integer")
                self.next()
                parts = [self.expr()]
                while self.accept(","):
                    parts.append(self.expr())
                self.expect("}")
                self.expect("}")
                inner: Expr = parts[0] if len(parts) == 1 else ("cat", parts)
                return ("rep", first[2], inner)
            parts = [first]
            while self.accept(","):
                parts.append(self.expr())
            self.expect("}", " closing a concatenation")
            return ("cat", parts)
        if t[0] == "str":
            raise self.src.error(t[2], "found a string in an expression", "an operand")
        raise self.src.error(
            t[2], f"found {self._desc(t)}", "an operand (name, constant, '(' or '{')"
        )


# ---------------------------------------------------------------------------------------
# Cells defined by a boolean function: yosys internal gates and Liberty cells
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# Elaboration: flatten the hierarchy into named gates
# ---------------------------------------------------------------------------------------

_FUSE_NOT = {
    Op.AND: Op.NAND, Op.OR: Op.NOR, Op.XOR: Op.XNOR,
    Op.NAND: Op.AND, Op.NOR: Op.OR, Op.XNOR: Op.XOR,
    Op.AND3: Op.NAND3, Op.OR3: Op.NOR3, Op.XOR3: Op.XNOR3,
    Op.NAND3: Op.AND3, Op.NOR3: Op.OR3, Op.XNOR3: Op.XOR3,
}  # fmt: skip
_PRIM_OP = {"and": Op.AND, "or": Op.OR, "xor": Op.XOR, "nand": Op.AND, "nor": Op.OR, "xnor": Op.XOR}

CONST0 = "1'b0"
CONST1 = "1'b1"


@functools.cache
def _lut_gates() -> dict[tuple[int, int], tuple[Op, tuple[int, ...]]]:
    """``(inputs, truth table) -> (op, input permutation)`` for single gates.

    Truth-table bit ``i`` is the output for select value ``i`` (select bit ``k`` is
    gate input ``perm[k]``), as in yosys' ``$lut`` and its ``C >> {s...}`` idiom.
    """
    from dse.netlist._netlist import _bit_eval

    out: dict[tuple[int, int], tuple[Op, tuple[int, ...]]] = {}
    for op in Op:
        n = ARITY[op]
        if n == 0:
            continue
        for perm in itertools.permutations(range(n)):
            table = 0
            for i in range(1 << n):
                ins = [0] * n
                for k in range(n):
                    ins[perm[k]] = (i >> k) & 1
                table |= _bit_eval(op, ins) << i
            # perm[k] = the gate input fed by select bit k; store the inverse order
            order = tuple(perm.index(j) for j in range(n))
            out.setdefault((n, table), (op, order))
    return out


def _bind(e: Expr, env: Mapping[str, str]) -> Expr:
    """``e`` with every pin name ``("id", pin)`` replaced by its net ``("net", name)``."""
    if e[0] == "id":
        return ("net", env[e[1]])
    if e[0] == "cat":
        return ("cat", [_bind(x, env) for x in e[1]])
    return tuple(_bind(x, env) if isinstance(x, tuple) else x for x in e)


_CELL_SCOPE = _Module("<cell>", _Source("", "<cell>"), 0)


class _Elaborator:
    def __init__(self, modules: Mapping[str, _Module], func_cells: Mapping[str, _FuncCell]) -> None:
        self.modules = modules
        self.func_cells = func_cells
        self.gates: list[list[Any]] = []  # [out, op, ins, where]
        self.temps: dict[str, list[Any]] = {}  # temporaries not yet consumed
        self.k = 0
        self.stack: list[str] = []

    # -- gate emission with local fusion ------------------------------------------------
    def emit(self, op: Op, ins: list[str], where: str) -> str:
        t = f"${self.k}"
        self.k += 1
        g = [t, op, ins, where]
        self.gates.append(g)
        self.temps[t] = g
        return t

    def _take(self, net: str, *ops: Op) -> list[Any] | None:
        g = self.temps.get(net)
        if g is not None and g[1] in ops:
            return g
        return None

    def g_not(self, x: str, where: str) -> str:
        if x == CONST0:
            return CONST1
        if x == CONST1:
            return CONST0
        g = self.temps.get(x)
        if g is not None:
            op = g[1]
            if op is Op.INV:
                del self.temps[x]
                return str(g[2][0])
            if op in (Op.OR, Op.AND):
                inner = Op.AND if op is Op.OR else Op.OR
                a, b = g[2]
                ga, gb = self._take(a, inner), self._take(b, inner)
                if ga is not None and gb is not None and len(ga[2]) == 2 and len(gb[2]) == 2:
                    g[1] = Op.AOI22 if op is Op.OR else Op.OAI22
                    g[2] = [*ga[2], *gb[2]]
                    del self.temps[a], self.temps[b]
                    return x
                one = ga if ga is not None else gb
                if one is not None and len(one[2]) == 2:
                    other = b if one is ga else a
                    g[1] = Op.AOI21 if op is Op.OR else Op.OAI21
                    g[2] = [*one[2], other]
                    del self.temps[one[0]]
                    return x
            if op in _FUSE_NOT:
                g[1] = _FUSE_NOT[op]
                return x
        return self.emit(Op.INV, [x], where)

    def g_bin(self, op: Op, x: str, y: str, where: str) -> str:
        three = {Op.AND: Op.AND3, Op.OR: Op.OR3, Op.XOR: Op.XOR3}[op]
        for first, second in ((x, y), (y, x)):
            g = self._take(first, op)
            if g is not None and self._take(second, op) is None:
                del self.temps[first]
                ins = [*g[2], second] if first == x else [second, *g[2]]
                if op is Op.OR:
                    maj = self._maj(ins)
                    if maj is not None:
                        return self.emit(Op.MAJ, maj, where)
                g[1] = three
                g[2] = ins
                self.temps[first] = g
                return first
        return self.emit(op, [x, y], where)

    def _maj(self, ins: list[str]) -> list[str] | None:
        """``(a&b) | (a&c) | (b&c)`` given the three OR inputs, as ``[a, b, c]``."""
        gs = [self._take(n, Op.AND) for n in ins]
        if any(g is None or len(g[2]) != 2 for g in gs):
            return None
        pairs = [frozenset(g[2]) for g in gs if g is not None]
        names: set[str] = set().union(*pairs)
        if len(names) != 3 or len(set(pairs)) != 3 or any(len(p) != 2 for p in pairs):
            return None
        for n in ins:
            del self.temps[n]
        first = gs[0]
        assert first is not None
        a, b = first[2]
        c = next(n for n in names if n not in (a, b))
        return [a, b, c]

    def g_reduce(self, op: Op, bits: list[str], where: str) -> str:
        if not bits:
            return CONST0
        acc = bits[0]
        for b in bits[1:]:
            acc = self.g_bin(op, acc, b, where)
        return acc

    # -- expressions → bits (LSB first) ---------------------------------------------------
    def bits(self, e: Expr, mod: _Module, prefix: str, where: str) -> list[str]:
        kind = e[0]
        if kind == "id":
            d = self._decl(mod, e[1])
            return [prefix + n for n in d.bit_names(e[1])]
        if kind == "net":  # a pin of a function-defined cell, bound to a net
            return [e[1]]
        if kind == "bit":
            return [prefix + self._bit(mod, e[1], e[2], e[3])]
        if kind == "part":
            d = self._decl(mod, e[1])
            if d.msb is None or d.lsb is None:
                raise mod.src.error(e[4], f"part select of scalar net {e[1]!r}")
            lo, hi = e[3], e[2]
            if (d.msb >= d.lsb) != (hi >= lo) and hi != lo:
                raise mod.src.error(e[4], f"part select [{hi}:{lo}] of {e[1]!r} is reversed")
            step = 1 if hi >= lo else -1
            return [prefix + self._bit(mod, e[1], i, e[4]) for i in range(lo, hi + step, step)]
        if kind == "const":
            return [CONST1 if (e[2] >> k) & 1 else CONST0 for k in range(e[1])]
        if kind == "cat":
            out: list[str] = []
            for part in reversed(e[1]):
                out.extend(self.bits(part, mod, prefix, where))
            return out
        if kind == "rep":
            inner = self.bits(e[2], mod, prefix, where)
            for n in inner:  # shared by several bits: neither fused nor renamed
                self.temps.pop(n, None)
            return inner * e[1]
        if kind == "un":
            op = e[1]
            xs = self.bits(e[2], mod, prefix, where)
            if op == "~":
                return [self.g_not(x, where) for x in xs]
            if op == "!":
                return [self.g_not(self.g_reduce(Op.OR, xs, where), where)]
            base = {"&": Op.AND, "~&": Op.AND, "|": Op.OR, "~|": Op.OR, "^": Op.XOR}.get(op, Op.XOR)
            r = self.g_reduce(base, xs, where)
            return [self.g_not(r, where) if op in ("~&", "~|", "~^", "^~") else r]
        if kind == "bin":
            op = e[1]
            xs = self.bits(e[2], mod, prefix, where)
            ys = self.bits(e[3], mod, prefix, where)
            if op in ("&&", "||"):
                x = self.g_reduce(Op.OR, xs, where)
                y = self.g_reduce(Op.OR, ys, where)
                return [self.g_bin(Op.AND if op == "&&" else Op.OR, x, y, where)]
            width = max(len(xs), len(ys))
            xs = xs + [CONST0] * (width - len(xs))
            ys = ys + [CONST0] * (width - len(ys))
            gop = {"&": Op.AND, "|": Op.OR, "^": Op.XOR, "~^": Op.XOR}[op]
            out = [self.g_bin(gop, x, y, where) for x, y in zip(xs, ys, strict=True)]
            if op == "~^":
                out = [self.g_not(o, where) for o in out]
            return out
        if kind == "tern":
            cs = self.bits(e[1], mod, prefix, where)
            c = cs[0] if len(cs) == 1 else self.g_reduce(Op.OR, cs, where)
            self.temps.pop(c, None)
            ts = self.bits(e[2], mod, prefix, where)
            fs = self.bits(e[3], mod, prefix, where)
            width = max(len(ts), len(fs))
            ts = ts + [CONST0] * (width - len(ts))
            fs = fs + [CONST0] * (width - len(fs))
            return [self.emit(Op.MUX, [f, t, c], where) for t, f in zip(ts, fs, strict=True)]
        if kind == "lut":
            table = e[1]
            sel = self.bits(e[2], mod, prefix, where)
            for n in sel:  # shared by the whole tree
                self.temps.pop(n, None)
            if len(sel) > 8:
                raise NetlistParseError(
                    f"{where}: LUT with {len(sel)} select bits; expected at most 8"
                )
            return [self._mux_tree(table, k, sel, where) for k in range(table[1])]
        raise NetlistParseError(f"{where}: unexpected expression {kind!r}")  # pragma: no cover

    def _mux_tree(self, table: Expr, offset: int, sel: list[str], where: str) -> str:
        """Bit ``offset + index(sel)`` of a constant: a known gate, else a tree of MUXes."""
        width, value = table[1], table[2]
        n = len(sel)
        if offset == 0 and 1 <= n <= 4:
            mask = (1 << (1 << n)) - 1
            known = _lut_gates().get((n, value & mask if width >= (1 << n) else value))
            if known is not None:
                op, perm = known
                if op is Op.BUF:
                    return sel[perm[0]]
                return self.emit(op, [sel[k] for k in perm], where)
        leaves = [
            CONST1 if offset + i < width and (value >> (offset + i)) & 1 else CONST0
            for i in range(1 << len(sel))
        ]
        for s in sel:  # LSB of the select first
            nxt = []
            for lo, hi in zip(leaves[0::2], leaves[1::2], strict=True):
                if lo == hi:
                    nxt.append(lo)
                elif (lo, hi) == (CONST0, CONST1):
                    nxt.append(s)
                else:
                    nxt.append(self.emit(Op.MUX, [lo, hi, s], where))
            leaves = nxt
        self.temps.pop(leaves[0], None)
        return leaves[0]

    def lvalue(self, e: Expr, mod: _Module, prefix: str, where: str) -> list[str]:
        kind = e[0]
        if kind in ("id", "bit", "part"):
            return self.bits(e, mod, prefix, where)
        if kind == "cat":
            out: list[str] = []
            for part in reversed(e[1]):
                out.extend(self.lvalue(part, mod, prefix, where))
            return out
        raise NetlistParseError(
            f"{where}: the target of an assignment must be a net, bit, part select or "
            f"concatenation; found {'a constant' if kind == 'const' else 'an expression'}"
        )

    def _decl(self, mod: _Module, name: str) -> _Decl:
        d = mod.decls.get(name)
        if d is None:
            # implicit 1-bit net (Verilog-2001 allows them in port connections)
            d = _Decl("wire", None, None, mod.pos)
            mod.decls[name] = d
        return d

    def _bit(self, mod: _Module, name: str, index: int, pos: int) -> str:
        d = mod.decls.get(name)
        if d is None:
            raise mod.src.error(pos, f"net {name!r} is not declared", "a declared vector")
        if d.msb is None or d.lsb is None:
            raise mod.src.error(pos, f"bit select {name}[{index}] of scalar net {name!r}")
        lo, hi = min(d.msb, d.lsb), max(d.msb, d.lsb)
        if not lo <= index <= hi:
            raise mod.src.error(
                pos, f"index {name}[{index}] is outside the range [{d.msb}:{d.lsb}]"
            )
        return f"{name}[{index}]"

    def drive(self, targets: list[str], values: list[str], where: str) -> None:
        values = values[: len(targets)] + [CONST0] * (len(targets) - len(values))
        for t, v in zip(targets, values, strict=True):
            g = self.temps.pop(v, None)
            if g is not None:
                g[0] = t  # the temporary becomes the named net
            else:
                self.gates.append([t, Op.BUF, [v], where])

    # -- modules ------------------------------------------------------------------------
    def module(self, mod: _Module, prefix: str) -> None:
        if mod.name in self.stack:
            raise NetlistParseError(
                f"{mod.where}: module {mod.name!r} instantiates itself "
                f"({' -> '.join([*self.stack, mod.name])})"
            )
        self.stack.append(mod.name)
        src = mod.src
        for item in mod.items:
            kind = item[0]
            if kind == "assign":
                where = src.where(item[3])
                lhs = self.lvalue(item[1], mod, prefix, where)
                rhs = self.bits(item[2], mod, prefix, where)
                self.drive(lhs, rhs, where)
                self.temps.clear()
            elif kind == "prim":
                self.primitive(item, mod, prefix)
                self.temps.clear()
            elif kind == "inst":
                self.instance(item, mod, prefix)
                self.temps.clear()
            elif kind == "supply":
                d = mod.decls[item[1]]
                for n in d.bit_names(item[1]):
                    self.gates.append(
                        [prefix + n, Op.BUF, [CONST1 if item[2] else CONST0], src.where(item[3])]
                    )
        self.stack.pop()

    def primitive(self, item: tuple[Any, ...], mod: _Module, prefix: str) -> None:
        _, prim, terms, pos = item
        where = mod.src.where(pos)

        def one(e: Expr, out: bool) -> str:
            bits = self.lvalue(e, mod, prefix, where) if out else self.bits(e, mod, prefix, where)
            if len(bits) != 1:
                raise mod.src.error(pos, f"{prim} terminal has {len(bits)} bits", "a single bit")
            return bits[0]

        if prim in ("not", "buf"):
            x = one(terms[-1], False)
            if len(terms) > 2:
                self.temps.pop(x, None)
            for t in terms[:-1]:
                self.drive([one(t, True)], [self.g_not(x, where) if prim == "not" else x], where)
            return
        out = one(terms[0], True)
        ins = [one(t, False) for t in terms[1:]]
        base = _PRIM_OP[prim]
        r = ins[0] if len(ins) == 1 else self.g_reduce(base, ins, where)
        if prim in ("nand", "nor", "xnor"):
            r = self.g_not(r, where)
        self.drive([out], [r], where)

    def instance(self, item: tuple[Any, ...], mod: _Module, prefix: str) -> None:
        _, cell, inst, conns, pos, _lp = item
        where = mod.src.where(pos)
        child = self.modules.get(cell)
        if child is not None:
            self._inline_module(child, inst, conns, mod, prefix, where, pos)
            return
        fc = self.func_cells.get(cell) or _yosys_cell(cell[1:] if cell[:1] == "\\" else cell)
        if fc is None:
            raise mod.src.error(
                pos,
                f"instance {inst!r} of unknown module or cell {cell!r}",
                "a module defined in the given files or cells=, or a Liberty cell (liberty=)",
            )
        pins = [*fc.inputs, *fc.functions]
        named = self._named_conns(conns, pins, cell, inst, mod, pos)
        env: dict[str, str] = {}
        for pin in fc.inputs:
            e = named.get(pin)
            if e is None:
                raise mod.src.error(
                    pos, f"input pin {pin!r} of {cell} instance {inst!r} is not connected"
                )
            bits = self.bits(e, mod, prefix, where)
            if len(bits) != 1:
                raise mod.src.error(
                    pos, f"pin {pin!r} of {cell} instance {inst!r} has {len(bits)} bits", "1"
                )
            env[pin] = bits[0]
        for pin, f in fc.functions.items():
            e = named.get(pin)
            if e is None:
                continue
            target = self.lvalue(e, mod, prefix, where)
            self.temps.clear()
            value = self._eval_func(f, env, where)
            self.drive(target, value, where)
        unknown = set(named) - set(pins)
        if unknown:
            raise mod.src.error(pos, f"{cell} has no pin {sorted(unknown)[0]!r}", f"one of {pins}")

    def _eval_func(self, f: Expr, env: Mapping[str, str], where: str) -> list[str]:
        return self.bits(_bind(f, env), _CELL_SCOPE, "", where)

    def _named_conns(
        self,
        conns: dict[str, Expr | None] | list[Expr | None],
        pins: Sequence[str],
        cell: str,
        inst: str,
        mod: _Module,
        pos: int,
    ) -> dict[str, Expr]:
        if isinstance(conns, dict):
            return {k: v for k, v in conns.items() if v is not None}
        if len(conns) > len(pins):
            raise mod.src.error(
                pos,
                f"instance {inst!r} of {cell} has {len(conns)} connections",
                f"at most {len(pins)}",
            )
        return {p: e for p, e in zip(pins, conns, strict=False) if e is not None}

    def _inline_module(
        self,
        child: _Module,
        inst: str,
        conns: dict[str, Expr | None] | list[Expr | None],
        mod: _Module,
        prefix: str,
        where: str,
        pos: int,
    ) -> None:
        cprefix = f"{prefix}{inst}."
        named = self._named_conns(conns, child.ports, child.name, inst, mod, pos)
        for pin in named:
            if pin not in child.ports:
                raise NetlistParseError(
                    f"{where}: module {child.name!r} has no port {pin!r}; expected one of {child.ports}"
                )
        for pin in child.ports:
            d = child.decls[pin]
            e = named.get(pin)
            if e is None:
                continue
            cbits = [cprefix + n for n in d.bit_names(pin)]
            if d.kind == "input":
                vals = self.bits(e, mod, prefix, where)
                self.drive(cbits, vals, where)
            else:
                target = self.lvalue(e, mod, prefix, where)
                n = min(len(target), len(cbits))
                self.drive(target[:n], cbits[:n], where)
            self.temps.clear()
        self.module(child, cprefix)


# ---------------------------------------------------------------------------------------
# Reader entry points
# ---------------------------------------------------------------------------------------


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as e:
        raise NetlistParseError(f"{path}: cannot read Verilog file: {e.strerror}") from e


def _parse_sources(
    main: Sequence[tuple[str, str]], cells: Sequence[tuple[str, str]]
) -> tuple[dict[str, _Module], list[str]]:
    """Modules by name and the names defined in the main sources (in order)."""
    modules: dict[str, _Module] = {}
    main_names: list[str] = []
    for is_cell, group in ((False, main), (True, cells)):
        for text, filename in group:
            for m in _Parser(_Source(text, filename)).parse_file():
                old = modules.get(m.name)
                if old is not None:
                    if old.from_cells or is_cell:
                        continue  # the first definition wins (main files before cells)
                    raise NetlistParseError(
                        f"{m.where}: module {m.name!r} is defined twice (first at {old.where})"
                    )
                m.from_cells = is_cell
                modules[m.name] = m
                if not is_cell:
                    main_names.append(m.name)
    return modules, main_names


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
