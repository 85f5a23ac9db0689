"""Reduction of the partial-product matrix to two rows: carry-save array, Wallace tree
(C. S. Wallace, IEEE Trans. Electronic Computers EC-13(1), 1964) and Dadda tree
(L. Dadda, Alta Frequenza 34, 1965), with half and full adders; and the 4:2-compressor
tree (see :mod:`dse.arith._c42tree`)."""

from __future__ import annotations

from collections import defaultdict

from dse.arith._graph import GraphBuilder, Node, Signal
from dse.errors import GraphError

__all__: list[str] = []


_CellName = tuple[str, Signal, Signal]  # name, (name, "sum"), (name, "cout")


class _CellNames(dict[tuple[str, int, int], list[_CellName]]):
    """``(tag, x, c)`` -> per ``k = 0, 1, ...`` the name ``f"{tag}{x}_c{c}_{k}"`` and
    its sum and carry signals.

    The reductions name cells as :meth:`GraphBuilder.cell` does (a counter per prefix;
    each prefix names one stage or row in one column, so its counter starts at 0).
    Formatting two f-strings and two signal tuples per cell was a good part of a
    rebuild's time; names and signals are immutable, so graphs share them.
    """

    def __missing__(self, key: tuple[str, int, int]) -> list[_CellName]:
        tag, x, c = key
        names = [f"{tag}{x}_c{c}_{k}" for k in range(_NAMES_PER_PREFIX)]
        entries = [(n, (n, "sum"), (n, "cout")) for n in names]
        self[key] = entries
        return entries


_NAMES_PER_PREFIX = 24  # enough for 16-bit operands; more fall back to formatting
_CELL_NAMES = _CellNames()


def _cell_name(tag: str, x: int, c: int, k: int) -> _CellName:
    names = _CELL_NAMES[(tag, x, c)]
    if k < _NAMES_PER_PREFIX:
        return names[k]
    name = f"{tag}{x}_c{c}_{k}"
    return name, (name, "sum"), (name, "cout")


def _new_cell(fields: dict[str, object], inputs: tuple[Signal, ...], column: int) -> Node:
    # what node_factory's functions do, for the reductions' loops to inline
    node = _new_object(Node)
    d = node.__dict__
    d.update(fields)
    d["inputs"] = inputs
    d["column"] = column
    return node


_new_object = object.__new__
_FA_FIELDS = dict(vars(Node("fa", role="tree")))
_HA_FIELDS = dict(vars(Node("ha", role="tree")))


def _reduce_dadda(gb: GraphBuilder, cols: dict[int, list[Signal]], width_p: int) -> None:
    max_h = max((len(v) for v in cols.values()), default=0)
    targets = [2]
    while targets[-1] < max_h:
        targets.append(targets[-1] * 3 // 2)
    nodes = gb.nodes
    new_object = _new_object
    fa_fields, ha_fields = _FA_FIELDS, _HA_FIELDS
    for stage, target in enumerate(reversed(targets[:-1])):
        new: dict[int, list[Signal]] = {}
        carry_in: list[Signal] = []
        for c in range(width_p):
            # the column's bits are taken from the front (index pos), as the
            # reference pops them
            avail = cols.get(c, [])
            n = len(avail)
            h = n + len(carry_in)
            if h <= target or n < 2:
                new[c] = avail + carry_in
                carry_in = []
                continue
            pos = 0
            out: list[Signal] = []
            carries: list[Signal] = []
            n_fa = n_ha = 0
            fa_names = ha_names = None
            while h > target and n - pos >= 2:
                node = new_object(Node)
                d = node.__dict__
                if h - target >= 2 and n - pos >= 3:
                    if fa_names is None:
                        fa_names = _CELL_NAMES[("fa_s", stage, c)]
                    if n_fa < _NAMES_PER_PREFIX:
                        name, s_sig, c_sig = fa_names[n_fa]
                    else:
                        name, s_sig, c_sig = _cell_name("fa_s", stage, c, n_fa)
                    n_fa += 1
                    d.update(fa_fields)
                    d["inputs"] = (avail[pos], avail[pos + 1], avail[pos + 2])
                    pos += 3
                    h -= 2
                else:
                    if ha_names is None:
                        ha_names = _CELL_NAMES[("ha_s", stage, c)]
                    if n_ha < _NAMES_PER_PREFIX:
                        name, s_sig, c_sig = ha_names[n_ha]
                    else:
                        name, s_sig, c_sig = _cell_name("ha_s", stage, c, n_ha)
                    n_ha += 1
                    d.update(ha_fields)
                    d["inputs"] = (avail[pos], avail[pos + 1])
                    pos += 2
                    h -= 1
                d["column"] = c
                if name in nodes:
                    raise GraphError(f"node {name!r} added twice")
                nodes[name] = node
                out.append(s_sig)
                carries.append(c_sig)
            new[c] = avail[pos:] + out + carry_in
            carry_in = carries if c + 1 < width_p else []
        cols.clear()
        cols.update(new)


def _reduce_wallace(gb: GraphBuilder, cols: dict[int, list[Signal]], width_p: int) -> None:
    nodes = gb.nodes
    stage = 0
    while any(len(v) > 2 for v in cols.values()):
        new: dict[int, list[Signal]] = {c: [] for c in range(width_p)}
        for c in range(width_p):
            avail = cols.get(c, [])
            n = len(avail)
            dst = new[c]
            if n < 3:
                dst.extend(avail)
                continue
            up = new[c + 1] if c + 1 < width_p else None
            pos = 0
            k = 0
            fa_names = _CELL_NAMES[("fa_s", stage, c)]
            while n - pos >= 3:
                if k < _NAMES_PER_PREFIX:
                    name, s_sig, c_sig = fa_names[k]
                else:
                    name, s_sig, c_sig = _cell_name("fa_s", stage, c, k)
                k += 1
                if name in nodes:
                    raise GraphError(f"node {name!r} added twice")
                nodes[name] = _new_cell(_FA_FIELDS, (avail[pos], avail[pos + 1], avail[pos + 2]), c)
                pos += 3
                dst.append(s_sig)
                if up is not None:
                    up.append(c_sig)
            if n - pos == 2:
                name, s_sig, c_sig = _CELL_NAMES[("ha_s", stage, c)][0]
                if name in nodes:
                    raise GraphError(f"node {name!r} added twice")
                nodes[name] = _new_cell(_HA_FIELDS, (avail[pos], avail[pos + 1]), c)
                pos += 2
                dst.append(s_sig)
                if up is not None:
                    up.append(c_sig)
            dst.extend(avail[pos:])
        cols.clear()
        cols.update(new)
        stage += 1


def _reduce_array(
    gb: GraphBuilder, bits: dict[int, list[tuple[Signal, int]]], width_p: int
) -> dict[int, list[Signal]]:
    """Carry-save array: add the rows one after another, carries to the next row."""
    rows: dict[int, dict[int, list[Signal]]] = {}
    for col, entries in bits.items():
        for sig, row in entries:
            by_col = rows.get(row)
            if by_col is None:
                by_col = rows[row] = {}
            lst = by_col.get(col)
            if lst is None:
                by_col[col] = [sig]
            else:
                lst.append(sig)
    nodes = gb.nodes
    new_object = _new_object
    fa_fields, ha_fields = _FA_FIELDS, _HA_FIELDS
    acc: dict[int, list[Signal]] = {}
    empty: list[Signal] = []
    for r in sorted(rows):
        row_bits = rows[r]
        new: dict[int, list[Signal]] = defaultdict(list)
        # Only columns with bits do anything (carries go to the next row's `new`,
        # filled before its column is reached), so the others are skipped.
        for c in sorted({*acc, *row_bits}):
            ins = acc.get(c, empty) + row_bits.get(c, empty)
            if len(ins) < 2:
                new[c].extend(ins)
                continue
            # bits are taken from the front (index pos) and sums appended at the
            # back, as the reference's pop(0)/append
            pos = 0
            n_fa = n_ha = 0
            fa_names = ha_names = None
            up = new[c + 1] if c + 1 < width_p else None
            while len(ins) - pos >= 2:
                node = new_object(Node)
                d = node.__dict__
                if len(ins) - pos >= 3:
                    if fa_names is None:
                        fa_names = _CELL_NAMES[("fa_r", r, c)]
                    if n_fa < _NAMES_PER_PREFIX:
                        name, s_sig, c_sig = fa_names[n_fa]
                    else:
                        name, s_sig, c_sig = _cell_name("fa_r", r, c, n_fa)
                    n_fa += 1
                    d.update(fa_fields)
                    d["inputs"] = (ins[pos], ins[pos + 1], ins[pos + 2])
                    pos += 3
                else:
                    if ha_names is None:
                        ha_names = _CELL_NAMES[("ha_r", r, c)]
                    if n_ha < _NAMES_PER_PREFIX:
                        name, s_sig, c_sig = ha_names[n_ha]
                    else:
                        name, s_sig, c_sig = _cell_name("ha_r", r, c, n_ha)
                    n_ha += 1
                    d.update(ha_fields)
                    d["inputs"] = (ins[pos], ins[pos + 1])
                    pos += 2
                d["column"] = c
                if name in nodes:
                    raise GraphError(f"node {name!r} added twice")
                nodes[name] = node
                if len(ins) == pos:
                    new[c].append(s_sig)
                else:
                    ins.append(s_sig)
                if up is not None:
                    up.append(c_sig)
            new[c].extend(ins[pos:])
        acc = new
    return acc


def _reduce_c42(gb: GraphBuilder, cols: dict[int, list[Signal]], width_p: int) -> None:
    """The 4:2-compressor tree of :mod:`dse.arith._c42tree` (reads node ``zero``)."""
    zero: Signal = ("zero", "y")
    stage = 0
    while any(len(v) > 2 for v in cols.values()):
        new: dict[int, list[Signal]] = defaultdict(list)
        chain: list[Signal] = []  # couts from the column below, same stage
        for c in range(width_p):
            bits = list(cols.get(c, []))
            incoming, chain = chain, []
            while len(bits) >= 4:
                ins = [bits.pop(0) for _ in range(4)]
                if incoming:
                    cin = incoming.pop(0)
                elif bits:
                    cin = bits.pop(0)
                else:
                    cin = zero
                cell = gb.cell(f"c42_s{stage}_c{c}", "c42", (*ins, cin), c, "tree")
                new[c].append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "carry"))
                    chain.append((cell, "cout"))
            rest = bits + incoming
            while len(rest) >= 3:
                trio = (rest.pop(0), rest.pop(0), rest.pop(0))
                cell = gb.cell(f"fa_s{stage}_c{c}", "fa", trio, c, "tree")
                new[c].append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "cout"))
            new[c].extend(rest)
        cols.clear()
        cols.update(new)
        stage += 1
