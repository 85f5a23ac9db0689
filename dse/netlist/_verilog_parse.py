"""The recursive-descent parser of the gate-level Verilog reader.

Modules become declarations and items, expressions tuples (see
:data:`dse.netlist._liberty.Expr`); behavioural code (``always``, ``reg``, arithmetic
operators, ``generate``) raises :class:`~dse.errors.NetlistParseError` with ``file:line``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dse.errors import NetlistParseError
from dse.netlist._liberty import (
    Expr,
)
from dse.netlist._verilog_lex import Tok, _Source

PathLike = str | os.PathLike[str]


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
