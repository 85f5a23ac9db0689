"""BLIF covers to gates: one gate where a cover's function is one, else a sum of products.

A cover over at most ``_MAX_TABLE`` inputs is matched by its truth table against every
:class:`Op` under every input order, with inverters on inputs or output where needed;
a larger one becomes an AND/OR sum of products (of its on-set or off-set, whichever
is cheaper).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence

from dse.netlist._netlist import Op
from dse.netlist._ops import _ARITY_INT, _TRUTH

_MAX_TABLE = 6  # covers over at most this many inputs are matched by truth table


def _recipes() -> dict[tuple[int, int], tuple[int, Op | int, tuple[int, ...], int, bool]]:
    """:func:`_recipes_of` the gates registered now."""
    return _recipes_of(len(_TRUTH))


@functools.cache
def _recipes_of(
    n_ops: int,
) -> dict[tuple[int, int], tuple[int, Op | int, tuple[int, ...], int, bool]]:
    """``(inputs, truth table) -> (gates, op, order, inverted inputs, inverted output)``.

    The cheapest way to compute a function of 1–4 inputs with one of the first
    ``n_ops`` registered gates (built-ins first, which win ties) plus
    inverters: gate input ``j`` reads variable ``order[j]``, inverted when bit
    ``order[j]`` of the mask is set. Table bit ``i`` is the value where variable ``k``
    is bit ``k`` of ``i``.
    """
    out: dict[tuple[int, int], tuple[int, Op | int, tuple[int, ...], int, bool]] = {}
    for code in range(n_ops):
        op: Op | int = Op(code) if code < len(Op) else code
        n = _ARITY_INT[code]
        if n == 0:
            continue
        truth = _TRUTH[code]
        full = (1 << (1 << n)) - 1
        for order in itertools.permutations(range(n)):
            # the gate's value where variable k is bit k of i
            vals = [
                truth[sum(((i >> var) & 1) << j for j, var in enumerate(order))]
                for i in range(1 << n)
            ]
            for mask in range(1 << n):
                table = sum(vals[i ^ mask] << i for i in range(1 << n))
                for neg_out in (False, True):
                    key = (n, table ^ full if neg_out else table)
                    cost = (op != Op.BUF) + bin(mask).count("1") + neg_out
                    old = out.get(key)
                    if old is None or cost < old[0]:
                        out[key] = (cost, op, order, mask, neg_out)
    return out


class _Emitter:
    """Appends gates to the reader's list under fresh names (never a BLIF name: those
    have no blanks)."""

    def __init__(self, gates: list[tuple[str, Op | int, list[str], str]]) -> None:
        self.gates = gates
        self.k = 0

    def temp(self, base: str) -> str:
        self.k += 1
        return f"{base} #{self.k}"

    def emit(self, op: Op | int, ins: list[str], base: str, where: str) -> str:
        out = self.temp(base)
        self.gates.append((out, op, ins, where))
        return out

    def finish(self, out: str, value: str, first: int, where: str) -> None:
        """Make net ``out`` carry ``value``: rename the gate that made it, or buffer."""
        last = self.gates[-1] if len(self.gates) > first else None
        if last is not None and last[0] == value:
            self.gates[-1] = (out, last[1], last[2], last[3])
        else:
            self.gates.append((out, Op.BUF, [value], where))


def _cover_gates(
    em: _Emitter, ins: Sequence[str], out: str, cubes: Sequence[str], onset: bool, where: str
) -> None:
    """Gates computing the cover ``cubes`` of ``.names ins out`` into net ``out``."""
    first = len(em.gates)
    # one variable per distinct input net (a net listed twice is one variable)
    names: list[str] = []
    col_var: list[int] = []
    for net in ins:
        if net not in names:
            names.append(net)
        col_var.append(names.index(net))
    lits: list[dict[int, int]] = []
    for cube in cubes:
        lit: dict[int, int] = {}
        empty = False
        for col, ch in enumerate(cube):
            if ch == "-":
                continue
            v, val = col_var[col], int(ch)
            if lit.setdefault(v, val) != val:
                empty = True  # x & !x: the cube covers nothing
        if not empty:
            lits.append(lit)
    if any(not lit for lit in lits):  # a cube of don't-cares covers every input
        em.finish(out, "1'b1" if onset else "1'b0", first, where)
        return
    used = sorted({v for lit in lits for v in lit})
    if len(used) <= _MAX_TABLE:
        # match the truth table over the true support against single gates
        table = 0
        for i in range(1 << len(used)):
            hit = any(
                all((i >> used.index(v)) & 1 == val for v, val in lit.items()) for lit in lits
            )
            table |= (hit == onset) << i
        support = [
            k for k in range(len(used))
            if any(((table >> i) ^ (table >> (i ^ (1 << k)))) & 1 for i in range(1 << len(used)))
        ]  # fmt: skip
        if not support:
            em.finish(out, "1'b1" if table & 1 else "1'b0", first, where)
            return
        if len(support) <= 4:
            sub = 0
            for i in range(1 << len(support)):
                full = sum(((i >> j) & 1) << k for j, k in enumerate(support))
                sub |= ((table >> full) & 1) << i
            recipe = _recipes().get((len(support), sub))
            if recipe is not None and recipe[0] <= _sop_cost(lits, onset):
                _, op, order, mask, neg_out = recipe
                nets = [names[used[k]] for k in support]
                gin = [
                    em.emit(Op.INV, [nets[var]], out, where) if (mask >> var) & 1 else nets[var]
                    for var in order
                ]
                value = gin[0] if op is Op.BUF else em.emit(op, gin, out, where)
                if neg_out:
                    value = em.emit(Op.INV, [value], out, where)
                em.finish(out, value, first, where)
                return
    em.finish(out, _sop(em, names, lits, not onset, out, where), first, where)


def _sop_cost(lits: Sequence[Mapping[int, int]], onset: bool) -> int:
    """Gates :func:`_sop` makes for ``lits`` (2- and 3-input gates, shared inverters)."""
    inverters = len({v for lit in lits for v, val in lit.items() if not val})
    ands = sum(_tree_cost(len(lit)) for lit in lits)
    tops = _tree_cost(len(lits))
    return inverters + ands + tops + (not onset and len(lits) == 1 and len(lits[0]) == 1)


def _tree_cost(n: int) -> int:
    return 0 if n <= 1 else 1 if n <= 3 else _tree_cost(-(-n // 3)) + -(-n // 3)


_TREE_OPS = {
    (Op.AND, False): (Op.AND, Op.AND3), (Op.AND, True): (Op.NAND, Op.NAND3),
    (Op.OR, False): (Op.OR, Op.OR3), (Op.OR, True): (Op.NOR, Op.NOR3),
}  # fmt: skip


def _tree(em: _Emitter, op: Op, items: list[str], invert: bool, base: str, where: str) -> str:
    """``items`` combined by ``op`` (AND or OR) in 2- and 3-input gates; the root inverted."""
    if len(items) == 1:
        return em.emit(Op.INV, items, base, where) if invert else items[0]
    two, three = _TREE_OPS[(op, False)]
    while len(items) > 3:
        items = [
            chunk[0]
            if len(chunk) == 1
            else em.emit(two if len(chunk) == 2 else three, chunk, base, where)
            for chunk in (items[k : k + 3] for k in range(0, len(items), 3))
        ]
    two, three = _TREE_OPS[(op, invert)]
    return em.emit(two if len(items) == 2 else three, items, base, where)


def _sop(
    em: _Emitter,
    names: Sequence[str],
    lits: Sequence[Mapping[int, int]],
    invert: bool,
    base: str,
    where: str,
) -> str:
    """A sum of products over the cubes as given (no minimisation), inverted for an
    off-set cover; an empty cover is constant 0 (1 inverted)."""
    if not lits:
        return "1'b1" if invert else "1'b0"
    negated: dict[int, str] = {}

    def literal(v: int, val: int) -> str:
        if val:
            return names[v]
        if v not in negated:
            negated[v] = em.emit(Op.INV, [names[v]], base, where)
        return negated[v]

    terms = [_tree(em, Op.AND, [literal(v, val) for v, val in lit.items()], False, base, where)
             for lit in lits]  # fmt: skip
    return _tree(em, Op.OR, terms, invert, base, where)
