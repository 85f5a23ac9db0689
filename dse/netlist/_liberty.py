"""Liberty cell libraries as the netlist layer reads them: file syntax and cell functions.

Liberty is Synopsys' open cell-library format (*Liberty User Guides and Reference
Manual Suite*, version 2017.06, ch. 1–3: groups ``name (args) { ... }``, simple
attributes ``name : value ;``, complex attributes ``name (args) ;``). This module
tokenises and parses a whole file into generic :class:`LibertyGroup` trees and parses
the Boolean ``function`` attribute of a pin into an expression tree. The readers of
gate-level netlists use it to define cells by function; :mod:`dse.eval` builds its
power/area/delay view (units, NLDM tables) on the same trees.

Why our own parser: PyPI's ``liberty-parser`` (lark based) reads the NanGate 45 nm file
too, but it is not a runtime dependency of dse and its errors do not name the line;
this reader reads the same 6.7 MB file in about 2 s and every :class:`~dse.errors.DataError`
says ``file:line``.
"""

from __future__ import annotations

import bisect
import gzip
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.errors import DataError, NetlistParseError

__all__ = [
    "Expr",
    "LibertyGroup",
    "liberty_function_table",
    "liberty_pin_groups",
    "parse_liberty_function",
    "parse_liberty_text",
    "read_liberty_text",
]

# Expression nodes (tuples), shared with the Verilog parser:
#   ("id", name, pos)  ("bit", name, index, pos)  ("part", name, msb, lsb, pos)
#   ("const", width, value)  ("cat", [e...])  ("rep", n, e)
#   ("un", op, e)  ("bin", op, a, b)  ("tern", c, t, f)
# A Liberty function uses only "id" (pos 0), 1-bit "const", "un" ~ and "bin" & | ^.
Expr = tuple[Any, ...]

_TOKEN_RE = re.compile(
    r"""
      (?P<ws>[ \t\r\n]+)
    | (?P<comment>/\*.*?\*/ | //[^\n]*)
    | (?P<cont>\\[ \t]*\r?\n)
    | (?P<str>"(?:[^"\\]|\\.|\\\n)*")
    | (?P<punct>[(){}:;,])
    | (?P<word>[^\s(){}:;,"\\]+)
    | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class LibertyGroup:
    """One Liberty group ``kind (args) { ... }`` with its attributes and subgroups.

    ``attrs`` holds simple attributes (``name : value``) with quotes stripped;
    ``complex_attrs`` holds every occurrence of a complex attribute
    (``name (a, b, ...)``) as a tuple of its arguments.
    """

    kind: str
    args: tuple[str, ...]
    line: int
    attrs: dict[str, str] = field(default_factory=dict)
    complex_attrs: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    groups: list[LibertyGroup] = field(default_factory=list)

    def subgroups(self, kind: str) -> Iterator[LibertyGroup]:
        """The direct subgroups of type ``kind``, in file order."""
        return (g for g in self.groups if g.kind == kind)


class _Parser:
    """Recursive-descent parser over the token stream of one Liberty file."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.text = text
        self._newlines = [m.start() for m in re.finditer("\n", text)]
        kinds: list[str] = []
        values: list[str] = []
        starts: list[int] = []
        for m in _TOKEN_RE.finditer(text):
            kind = m.lastgroup
            if kind in ("ws", "comment", "cont"):
                continue
            if kind == "bad":
                raise DataError(
                    f"{path}:{self.line_of(m.start())}: unexpected character {m.group()!r}"
                )
            val = m.group()
            if kind == "str":
                val = val[1:-1].replace("\\\n", "")
            kinds.append(kind or "")
            values.append(val)
            starts.append(m.start())
        self.kinds = kinds
        self.values = values
        self.starts = starts
        self.pos = 0

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._newlines, offset - 1) + 1

    def _where(self, pos: int | None = None) -> str:
        pos = self.pos if pos is None else pos
        off = self.starts[pos] if pos < len(self.starts) else len(self.text)
        return f"{self.path}:{self.line_of(off)}"

    def _expect(self, punct: str) -> None:
        if self.pos >= len(self.kinds):
            raise DataError(f"{self._where()}: expected {punct!r}, found end of file")
        if self.kinds[self.pos] != "punct" or self.values[self.pos] != punct:
            raise DataError(f"{self._where()}: expected {punct!r}, found {self.values[self.pos]!r}")
        self.pos += 1

    def _peek_punct(self, punct: str) -> bool:
        return (
            self.pos < len(self.kinds)
            and self.kinds[self.pos] == "punct"
            and self.values[self.pos] == punct
        )

    def parse(self) -> LibertyGroup:
        if not self.kinds:
            raise DataError(f"{self.path}:1: empty Liberty file")
        top = self._statement(None)
        if top is None:
            raise DataError(
                f"{self._where(0)}: the file must start with a 'library (name) {{' group"
            )
        if self.pos != len(self.kinds):
            raise DataError(f"{self._where()}: text after the end of the top-level group")
        return top

    def _args(self) -> tuple[str, ...]:
        self._expect("(")
        out: list[str] = []
        cur: list[str] = []
        while True:
            if self.pos >= len(self.kinds):
                raise DataError(f"{self._where()}: unterminated '(' argument list")
            k, v = self.kinds[self.pos], self.values[self.pos]
            self.pos += 1
            if k == "punct" and v == ")":
                if cur or out:
                    out.append(" ".join(cur))
                return tuple(out)
            if k == "punct" and v == ",":
                out.append(" ".join(cur))
                cur = []
            elif k == "punct" and v != ":":
                raise DataError(f"{self._where(self.pos - 1)}: unexpected {v!r} in argument list")
            else:
                cur.append(v)

    def _statement(self, parent: LibertyGroup | None) -> LibertyGroup | None:
        """Parse one statement; return it when it is a group, else store it in ``parent``."""
        start = self.pos
        if self.kinds[self.pos] != "word":
            raise DataError(
                f"{self._where()}: expected an attribute or group name, "
                f"found {self.values[self.pos]!r}"
            )
        name = self.values[self.pos]
        self.pos += 1
        if self._peek_punct(":"):
            self.pos += 1
            parts: list[str] = []
            while self.pos < len(self.kinds) and not (
                self.kinds[self.pos] == "punct" and self.values[self.pos] in ";}"
            ):
                if self.kinds[self.pos] == "punct":
                    raise DataError(
                        f"{self._where()}: unexpected {self.values[self.pos]!r} in the value "
                        f"of attribute {name!r}"
                    )
                parts.append(self.values[self.pos])
                self.pos += 1
            if not parts:
                raise DataError(f"{self._where(start)}: attribute {name!r} has no value")
            if self._peek_punct(";"):
                self.pos += 1
            if parent is None:
                raise DataError(f"{self._where(start)}: attribute {name!r} outside any group")
            parent.attrs[name] = " ".join(parts)
            return None
        if not self._peek_punct("("):
            raise DataError(
                f"{self._where()}: expected ':' or '(' after {name!r}, "
                f"found {self.values[self.pos] if self.pos < len(self.values) else 'end of file'!r}"
            )
        args = self._args()
        if self._peek_punct("{"):
            self.pos += 1
            group = LibertyGroup(name, args, self.line_of(self.starts[start]))
            while not self._peek_punct("}"):
                if self.pos >= len(self.kinds):
                    raise DataError(
                        f"{self._where(start)}: group {name} ({', '.join(args)}) is never closed"
                    )
                sub = self._statement(group)
                if sub is not None:
                    group.groups.append(sub)
            self.pos += 1
            if self._peek_punct(";"):
                self.pos += 1
            return group
        if self._peek_punct(";"):
            self.pos += 1
        if parent is None:
            raise DataError(f"{self._where(start)}: attribute {name!r} outside any group")
        parent.complex_attrs.setdefault(name, []).append(args)
        return None


def parse_liberty_text(text: str, path: str = "<string>") -> LibertyGroup:
    """Parse Liberty source text into its top-level ``library`` group."""
    return _Parser(text, path).parse()


def liberty_pin_groups(cell: LibertyGroup) -> list[tuple[str, LibertyGroup]]:
    """``(pin name, pin group)`` of a ``cell`` group in file order, ``bus`` pins included.

    A ``pin (A, B)`` group names several pins that share its attributes.
    """
    out: list[tuple[str, LibertyGroup]] = []
    for g in cell.groups:
        if g.kind == "pin":
            out.extend((a, g) for a in g.args)
        elif g.kind == "bus" or g.kind == "bundle":
            for sub in g.subgroups("pin"):
                out.extend((a, sub) for a in sub.args)
    return out


def read_liberty_text(path: str | os.PathLike[str]) -> str:
    """The text of a Liberty file (``.lib`` or gzip-compressed ``.lib.gz``).

    Raises:
        DataError: the file is missing or unreadable.
    """
    p = os.fspath(path)
    try:
        if p.endswith(".gz"):
            with gzip.open(p, "rt", encoding="utf-8", errors="replace") as f:
                return f.read()
        with open(p, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(f"{p}: Liberty file not found") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{p}: cannot read Liberty file ({exc})") from None


_LIB_TOKEN = re.compile(r"\s*(?:([A-Za-z_][\w\[\].]*)|([01])|(.))")


def parse_liberty_function(text: str, where: str = "<liberty>") -> Expr:
    """A Liberty ``function`` string as an expression tree (over ``("id", pin)``).

    Liberty syntax: ``!`` or postfix ``'`` NOT, ``&``/``*``/juxtaposition AND, ``|``/``+``
    OR, ``^`` XOR (precedence as in OpenSTA: ``| +`` < ``& * space`` < ``^`` < NOT).
    """
    toks: list[tuple[str, str]] = []
    for m in _LIB_TOKEN.finditer(text):
        if m.group(1):
            toks.append(("id", m.group(1)))
        elif m.group(2):
            toks.append(("const", m.group(2)))
        elif m.group(3):
            toks.append(("op", m.group(3)))
    toks.append(("eof", ""))
    i = 0

    def err(what: str) -> NetlistParseError:
        return NetlistParseError(f"{where}: liberty function {text!r}: {what}")

    def peek() -> tuple[str, str]:
        return toks[i]

    def or_() -> Expr:
        nonlocal i
        e = and_()
        while peek()[1] in ("|", "+"):
            i += 1
            e = ("bin", "|", e, and_())
        return e

    def and_() -> Expr:
        nonlocal i
        e = xor_()
        while True:
            k, s = peek()
            if s in ("&", "*"):
                i += 1
            elif not (k in ("id", "const") or s in ("(", "!")):
                return e
            e = ("bin", "&", e, xor_())

    def xor_() -> Expr:
        nonlocal i
        e = not_()
        while peek()[1] == "^":
            i += 1
            e = ("bin", "^", e, not_())
        return e

    def not_() -> Expr:
        nonlocal i
        k, s = peek()
        if s == "!":
            i += 1
            e: Expr = ("un", "~", not_())
        elif s == "(":
            i += 1
            e = or_()
            if peek()[1] != ")":
                raise err("expected ')'")
            i += 1
        elif k == "id":
            i += 1
            e = ("id", s, 0)
        elif k == "const":
            i += 1
            e = ("const", 1, int(s))
        else:
            raise err(f"unexpected {s or 'end'!r}")
        while peek()[1] == "'":
            i += 1
            e = ("un", "~", e)
        return e

    e = or_()
    if peek()[0] != "eof":
        raise err(f"trailing {peek()[1]!r}")
    return e


def _minterm_inputs(n: int) -> list[np.ndarray]:
    """Input ``k`` over the ``2**n`` minterms: bit ``k`` of the minterm index."""
    idx = np.arange(1 << n)
    return [((idx >> k) & 1).astype(bool) for k in range(n)]


def liberty_function_table(expr: str, pins: Sequence[str]) -> np.ndarray:
    """Truth table of a Liberty function (or ``when``) over ``pins``, as a bool array.

    Entry ``m`` is the value when pin ``k`` is bit ``k`` of ``m``; the syntax is that of
    :func:`parse_liberty_function`.

    Raises:
        ValueError: an identifier is not one of ``pins`` or the syntax is bad.
    """
    try:
        tree = parse_liberty_function(expr, "<liberty>")
    except NetlistParseError as err:
        raise ValueError(str(err)) from None
    values = dict(zip(pins, _minterm_inputs(len(pins)), strict=True))
    size = 1 << len(pins)

    def value(e: Expr) -> np.ndarray:
        kind = e[0]
        if kind == "id":
            if e[1] not in values:
                raise ValueError(f"function {expr!r} names {e[1]!r}, not an input pin")
            return values[e[1]].copy()
        if kind == "const":
            return np.full(size, e[2] == 1)
        if kind == "un":
            return ~value(e[2])
        a, b = value(e[2]), value(e[3])
        return a & b if e[1] == "&" else a | b if e[1] == "|" else a ^ b

    return np.asarray(value(tree), dtype=bool)
