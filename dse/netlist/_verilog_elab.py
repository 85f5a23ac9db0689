"""Elaboration of parsed Verilog: the hierarchy flattened into named gates.

Within one expression, chains and inversions are fused back into the netlist's richer
gates (``~(a & b)`` → NAND, ``a ^ b ^ c`` → XOR3, ``(a & b) | (a & c) | (b & c)`` →
MAJ, ``~((a & b) | c)`` → AOI21, ``s ? b : a`` → MUX), so a netlist written by
:func:`~dse.netlist.write_verilog` reads back gate for gate.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from dse.errors import NetlistParseError
from dse.netlist._liberty import (
    Expr,
)
from dse.netlist._ops import ARITY, Op, gate_op
from dse.netlist._verilog_cells import _FuncCell, _yosys_cell
from dse.netlist._verilog_lex import _Source
from dse.netlist._verilog_parse import _Decl, _Module

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
    Only built-in gates: a netlist read from Verilog is made of them.
    """
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
                table |= gate_op(op).bit(ins) << i
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
