"""Generators of exact (and partial-product-approximate) multipliers.

A multiplier is built in three steps, each a textbook method:

1. the partial-product matrix: unsigned AND array; signed two's complement with the
   Baugh-Wooley scheme (C. R. Baugh, B. A. Wooley, IEEE Trans. Computers C-22(12),
   1973); or radix-4 (modified) Booth recoding (A. D. Booth, 1951; O. L. MacSorley,
   Proc. IRE 49(1), 1961) with sign-extension prevention;
2. the reduction to two rows: carry-save array, Wallace tree (C. S. Wallace, IEEE
   Trans. Electronic Computers EC-13(1), 1964) or Dadda tree (L. Dadda, Alta
   Frequenza 34, 1965);
3. the final carry-propagate adder: ripple-carry or Kogge-Stone parallel prefix
   (P. M. Kogge, H. S. Stone, IEEE Trans. Computers C-22(8), 1973), optionally with a
   lower-part-OR low part (LOA; H. R. Mahdiani et al., IEEE TCAS-I 57(4), 2010).

Negative weights are handled generally: a term ``-x * 2**k`` is written as
``(1 - x) * 2**k - 2**k``, so every matrix bit has a positive weight and all the
``-2**k`` are summed into one constant added modulo ``2**(n+m)``. Approximations that
act on the matrix (pruning, truncation, broken array) live in :class:`MultiplierSpec`
so the tree is rebuilt over the bits that remain, as a designer would.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from dse.arith._graph import GraphBuilder, MultiplierGraph, Node, Signal, node_factory
from dse.errors import ConfigError, GraphError

__all__ = [
    "ADDERS",
    "ENCODINGS",
    "MAX_WIDTH",
    "MIN_WIDTH",
    "REDUCTIONS",
    "MultiplierSpec",
    "build",
    "multiplier",
]

MIN_WIDTH = 2
MAX_WIDTH = 16
REDUCTIONS = ("array", "wallace", "dadda")
ADDERS = ("ripple", "kogge-stone")
ENCODINGS = ("unsigned", "baugh-wooley", "booth")

PPId = tuple[int, int]


@dataclass(frozen=True)
class MultiplierSpec:
    """Everything a partial-product multiplier is built from.

    Attributes:
        width_a, width_b: operand widths (2..16).
        signed: two's complement operands and product.
        encoding: ``unsigned``, ``baugh-wooley`` (signed) or ``booth`` (radix 4).
        reduction: ``array``, ``wallace`` or ``dadda``.
        adder: final adder, ``ripple`` or ``kogge-stone``.
        pruned: partial products treated as 0: ``(i, j)`` is ``a_i * b_j`` for AND
            matrices and ``(row, bit)`` for Booth.
        truncate: the number of least-significant columns removed.
        compensate: add the rounded expected value of what was removed (uniform
            operands) back as a constant (constant-correction truncation: M. J.
            Schulte, E. E. Swartzlander, VLSI Signal Processing VI, 1993).
        bam: broken-array break levels ``(hbl, vbl)``: removes ``a_i b_j`` when
            ``j < hbl`` or ``i + j < vbl`` (Mahdiani et al., IEEE TCAS-I 57(4), 2010).
        loa: lower-part-OR final adder over this many low columns.
    """

    width_a: int
    width_b: int
    signed: bool = False
    encoding: Literal["unsigned", "baugh-wooley", "booth"] = "unsigned"
    reduction: Literal["array", "wallace", "dadda"] = "dadda"
    adder: Literal["ripple", "kogge-stone"] = "ripple"
    pruned: frozenset[PPId] = field(default_factory=frozenset)
    truncate: int = 0
    compensate: bool = False
    bam: tuple[int, int] = (0, 0)
    loa: int = 0

    def __post_init__(self) -> None:
        for name in ("width_a", "width_b"):
            w = getattr(self, name)
            if not isinstance(w, int) or not MIN_WIDTH <= w <= MAX_WIDTH:
                raise ConfigError(
                    f"{name} must be an integer in [{MIN_WIDTH}, {MAX_WIDTH}], got {w!r}"
                )
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.encoding == "baugh-wooley" and not self.signed:
            raise ConfigError("encoding 'baugh-wooley' is for signed multipliers")
        if self.encoding == "unsigned" and self.signed:
            raise ConfigError("encoding 'unsigned' cannot be signed; use 'baugh-wooley' or 'booth'")
        if self.reduction not in REDUCTIONS:
            raise ConfigError(f"reduction must be one of {REDUCTIONS}, got {self.reduction!r}")
        if self.adder not in ADDERS:
            raise ConfigError(f"adder must be one of {ADDERS}, got {self.adder!r}")
        width_p = self.width_a + self.width_b
        if not 0 <= self.truncate < width_p:
            raise ConfigError(f"truncate must be in [0, {width_p - 1}], got {self.truncate}")
        if not 0 <= self.loa < width_p:
            raise ConfigError(f"loa must be in [0, {width_p - 1}], got {self.loa}")
        hbl, vbl = self.bam
        if not (0 <= hbl <= self.width_b and 0 <= vbl <= width_p):
            raise ConfigError(
                f"bam break levels must satisfy 0 <= hbl <= {self.width_b} and "
                f"0 <= vbl <= {width_p}, got {self.bam}"
            )
        if (hbl or vbl) and self.encoding == "booth":
            raise ConfigError("the broken-array knob applies to AND-array (non-Booth) multipliers")
        rows, cols = self.pp_grid
        for i, j in self.pruned:
            if not (0 <= i < rows and 0 <= j < cols):
                raise ConfigError(
                    f"partial product ({i}, {j}) does not exist; valid: 0 <= i < {rows}, "
                    f"0 <= j < {cols}"
                )

    @property
    def pp_grid(self) -> tuple[int, int]:
        """Index ranges of partial-product ids: ``(i range, j range)``."""
        if self.encoding == "booth":
            return self.booth_rows, self.booth_row_bits
        return self.width_a, self.width_b

    @property
    def booth_row_bits(self) -> int:
        # A row holds a signed multiple of a in {-2a..2a}: n+1 bits for signed a,
        # n+2 for unsigned a (whose value needs n+1 bits as a signed number).
        return self.width_a + 1 if self.signed else self.width_a + 2

    @property
    def booth_rows(self) -> int:
        # An unsigned multiplier operand is zero-extended by one bit first.
        m = self.width_b if self.signed else self.width_b + 1
        return (m + 1) // 2

    def keeps(self, pp: PPId, column: int) -> bool:
        """Whether matrix bit ``pp`` at ``column`` survives pruning/truncation/BAM."""
        if pp in self.pruned or column < self.truncate:
            return False
        hbl, vbl = self.bam
        if self.encoding != "booth" and (hbl or vbl):
            i, j = pp
            if j < hbl or i + j < vbl:
                return False
        return True


@dataclass
class _Matrix:
    """Partial-product bits by column, with their rows, plus a constant."""

    bits: dict[int, list[tuple[Signal, int]]] = field(default_factory=lambda: defaultdict(list))
    constant: int = 0
    removed_expectation: float = 0.0


@functools.lru_cache(maxsize=64)
def _input_nodes(width_a: int, width_b: int) -> tuple[tuple[str, Node], ...]:
    """Operand-bit nodes by name (immutable, so every build of one shape shares them)."""
    a = [(f"a{i}", Node("input", role="input", operand="a", bit=i)) for i in range(width_a)]
    b = [(f"b{j}", Node("input", role="input", operand="b", bit=j)) for j in range(width_b)]
    return (*a, *b)


def _operand_inputs(gb: GraphBuilder) -> None:
    for name, node in _input_nodes(gb.width_a, gb.width_b):
        gb.add(name, node)


@functools.lru_cache(maxsize=64)
def _and_cells(
    n: int, m: int, signed: bool
) -> tuple[tuple[int, int, int, bool, PPId, str, str, Node, tuple[Signal, int]], ...]:
    """Per AND-matrix bit ``a_i b_j`` in generation order: ``(i, j, column, negative,
    (i, j), name, the const-1 name if pruned, node, its matrix entry)``. The same for
    every build of one shape, and nodes are immutable, so rebuilds (every matrix knob)
    share them."""
    out = []
    for j in range(m):
        for i in range(n):
            col = i + j
            negative = signed and ((i == n - 1) != (j == m - 1))
            kind = "pp_nand" if negative else "pp_and"
            node = Node(kind, ((f"a{i}", "y"), (f"b{j}", "y")), col, role="pp", row=j)
            name = f"pp_{i}_{j}"
            out.append(
                (i, j, col, negative, (i, j), name, f"one_pp_{i}_{j}", node, ((name, "y"), j))
            )
    return tuple(out)


def _and_matrix(gb: GraphBuilder, spec: MultiplierSpec) -> _Matrix:
    mat = _Matrix()
    bits = mat.bits
    nodes = gb.nodes
    # spec.keeps inlined (an AND matrix is never Booth): this runs for every bit of
    # every rebuild
    pruned = spec.pruned
    truncate = spec.truncate
    hbl, vbl = spec.bam
    bam = bool(hbl or vbl)
    constant = 0
    for i, j, col, negative, pp, name, one_name, node, entry in _and_cells(
        spec.width_a, spec.width_b, spec.signed
    ):
        if pp in pruned or col < truncate or (bam and (j < hbl or i + j < vbl)):
            # Pruned: a_i b_j counts as 0. A Baugh-Wooley term then contributes
            # NAND(0) 2^k - 2^k = 0: its bit becomes a constant 1 in place, so the
            # tree keeps its shape and only simplifies (and the -2^k stays).
            mat.removed_expectation += (-0.25 if negative else 0.25) * (1 << col)
            if negative and col >= truncate:
                gb.add(one_name, Node("const1", (), col, role="const", row=j))
                bits[col].append(((one_name, "y"), j))
                constant -= 1 << col
            continue
        if name in nodes:
            raise GraphError(f"node {name!r} added twice")
        nodes[name] = node
        bits[col].append(entry)
        if negative:
            constant -= 1 << col
    mat.constant += constant
    return mat


def _booth_matrix(gb: GraphBuilder, spec: MultiplierSpec) -> _Matrix:
    n = spec.width_a
    mat = _Matrix()
    zero = gb.add("zero", Node("const0", role="const"))

    def a_bit(j: int) -> Signal:
        if j < 0:
            return (zero, "y")
        if j >= n:  # sign (or zero) extension of the multiplicand
            return (f"a{n - 1}", "y") if spec.signed else (zero, "y")
        return (f"a{j}", "y")

    def b_bit(k: int) -> Signal:
        if k < 0:
            return (zero, "y")
        if k >= spec.width_b:
            return (f"b{spec.width_b - 1}", "y") if spec.signed else (zero, "y")
        return (f"b{k}", "y")

    for i in range(spec.booth_rows):
        enc = (b_bit(2 * i + 1), b_bit(2 * i), b_bit(2 * i - 1))
        top = spec.booth_row_bits - 1
        for j in range(top + 1):
            col = 2 * i + j
            if col >= spec.width_a + spec.width_b:
                continue  # beyond the product: it (and its -2**col) vanish modulo 2**(n+m)
            msb = j == top
            if msb:
                mat.constant -= 1 << col  # -s 2^k = (~s) 2^k - 2^k
            if not spec.keeps((i, j), col):
                mat.removed_expectation += 0.5 * (1 << col)
                continue
            kind = "booth_ppn" if msb else "booth_pp"
            name = gb.add(
                f"pp_{i}_{j}", Node(kind, (a_bit(j), a_bit(j - 1), *enc), col, role="pp", row=i)
            )
            mat.bits[col].append(((name, "y"), i))
        # The +1 that completes the two's complement of a negated row.
        neg = enc[0]
        if neg[0] != zero and 2 * i >= spec.truncate:
            mat.bits[2 * i].append((neg, i))
    return mat


def _add_constant(gb: GraphBuilder, mat: _Matrix, width_p: int, truncate: int) -> None:
    const = mat.constant % (1 << width_p)
    row = 1 << 30  # constants reduce last in an array
    for col in range(truncate, width_p):
        if (const >> col) & 1:
            name = gb.add(f"one_{col}", Node("const1", (), col, role="const", row=row))
            mat.bits[col].append(((name, "y"), row))


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


_ZERO_NODE = Node("const0", role="const")


class _AdderNames:
    """The final adder's cell names for one product width, as :meth:`GraphBuilder.cell`
    gives them: every prefix of the final adder names one cell, so each ends in ``_0``."""

    def __init__(self, width_p: int) -> None:
        cols = range(width_p)
        self.loa_or = [f"loa_or_c{c}_0" for c in cols]
        self.loa_and = [f"loa_and_c{c}_0" for c in cols]
        # ripple cells: name, (name, "sum"), (name, "cout")
        self.cpa = {
            k: [(n, (n, "sum"), (n, "cout")) for n in (f"cpa_{k}_c{c}_0" for c in cols)]
            for k in ("fa", "ha")
        }
        self.pg = [f"pg_c{c}_0" for c in cols]
        self.sum = [f"sum_c{c}_0" for c in cols]
        # prefix positions: at most one per column plus the carry-in
        dists = [1 << k for k in range(width_p.bit_length() + 1)]
        self.gray = {d: [f"ks_gray_d{d}_i{i}_0" for i in range(width_p + 1)] for d in dists}
        self.black = {d: [f"ks_black_d{d}_i{i}_0" for i in range(width_p + 1)] for d in dists}


@functools.lru_cache(maxsize=64)
def _adder_names(width_p: int) -> _AdderNames:
    return _AdderNames(width_p)


def _final_adder(
    gb: GraphBuilder, cols: dict[int, list[Signal]], spec: MultiplierSpec
) -> list[Signal]:
    width_p = spec.width_a + spec.width_b
    zero = "zero"
    nodes = gb.nodes
    if zero not in nodes:
        nodes[zero] = _ZERO_NODE
    zsig: Signal = (zero, "y")
    names = _adder_names(width_p)
    # Cells are added as GraphBuilder.cell would (same names, same nodes), without its
    # per-call counter and formatting: this runs on every rebuild of a tree.
    counter = gb._counter

    def add(name: str, node: Node) -> str:
        if name in nodes or name[:-2] in counter:
            raise GraphError(f"node {name!r} added twice")
        nodes[name] = node
        return name

    result: list[Signal] = []
    carry: Signal | None = None
    empty: list[Signal] = []
    for c in range(min(spec.loa, width_p)):
        ins = cols.get(c, empty)
        if len(ins) == 0:
            result.append(zsig)
        elif len(ins) == 1:
            result.append(ins[0])
        else:
            # LOA: the low part's sum is a bitwise OR; its top AND feeds the carry-in.
            cell = add(names.loa_or[c], node_factory("or2", "cpa")((ins[0], ins[1]), None))
            result.append((cell, "y"))
        if c == spec.loa - 1 and len(ins) >= 2:
            cell = add(names.loa_and[c], node_factory("and2", "cpa")((ins[0], ins[1]), None))
            carry = (cell, "y")
    start = len(result)
    if spec.adder == "ripple":
        make_fa, make_ha = node_factory("fa", "cpa"), node_factory("ha", "cpa")
        fa_names, ha_names = names.cpa["fa"], names.cpa["ha"]
        for c in range(start, width_p):
            ins = cols.get(c, empty)
            if carry is not None:
                ins = [*ins, carry]
                carry = None
            n = len(ins)
            if n == 0:
                result.append(zsig)
            elif n == 1:
                result.append(ins[0])
            else:
                if n == 3:
                    cell, s_sig, c_sig = fa_names[c]
                    add(cell, make_fa(tuple(ins), c))
                else:
                    cell, s_sig, c_sig = ha_names[c]
                    add(cell, make_ha(tuple(ins), c))
                result.append(s_sig)
                carry = c_sig if c + 1 < width_p else None
        return result
    # Kogge-Stone over the columns from the first one that has two bits.
    low = start
    while low < width_p and len(cols.get(low, empty)) < 2 and carry is None:
        ins = cols.get(low, empty)
        result.append(ins[0] if ins else zsig)
        low += 1
    if low >= width_p:
        return result
    make_pg = node_factory("pg", "cpa")
    for c in range(low, width_p):
        ins = cols.get(c, empty)
        x = ins[0] if ins else zsig
        y = ins[1] if len(ins) > 1 else zsig
        add(names.pg[c], make_pg((x, y), c))
    cells, tail = _kogge_stone_network(width_p, low, carry)
    if not nodes.keys().isdisjoint(cells) or (counter and any(n[:-2] in counter for n in cells)):
        raise GraphError(f"node names of the Kogge-Stone adder ({', '.join(cells)}) added twice")
    nodes.update(cells)
    result.extend(tail)
    return result


@functools.lru_cache(maxsize=256)
def _kogge_stone_network(
    width_p: int, low: int, carry: Signal | None
) -> tuple[dict[str, Node], tuple[Signal, ...]]:
    """The prefix cells and sum XORs of a Kogge-Stone adder over columns ``low`` and
    up, in the order they are added, and its sum bits.

    They read only the adder's pg cells (named by column) and the carry-in, so they
    are the same (names and nodes, which are immutable) in every build with the same
    ``(width_p, low, carry)``: rebuilds share them instead of making them again.
    """
    names = _adder_names(width_p)
    cells: dict[str, Node] = {}

    def add(name: str, node: Node) -> str:
        if name in cells:
            raise GraphError(f"node {name!r} added twice")
        cells[name] = node
        return name

    gen: list[Signal | None] = []
    prop: list[Signal | None] = []
    if carry is not None:
        gen.append(carry)  # carry-in as a position with p = 0
        prop.append(None)
    first = len(gen)
    for c in range(low, width_p):
        gen.append((names.pg[c], "g"))
        prop.append((names.pg[c], "p"))
    p_bits = list(prop)
    dist = 1
    n_pos = len(gen)
    make_gray = node_factory("gray", "cpa")
    make_black = node_factory("black", "cpa")
    while dist < n_pos:
        new_g, new_p = list(gen), list(prop)
        gray_names, black_names = names.gray[dist], names.black[dist]
        for i in range(dist, n_pos):
            if prop[i] is None:
                continue  # span already reaches position 0
            gh, ph, gl, pl = gen[i], prop[i], gen[i - dist], prop[i - dist]
            assert gh is not None and ph is not None and gl is not None
            if pl is None:
                cell = add(gray_names[i], make_gray((gh, ph, gl), None))
                new_g[i], new_p[i] = (cell, "g"), None
            else:
                cell = add(black_names[i], make_black((gh, ph, gl, pl), None))
                new_g[i], new_p[i] = (cell, "g"), (cell, "p")
        gen, prop = new_g, new_p
        dist *= 2
    make_xor = node_factory("xor2", "cpa")
    tail: list[Signal] = []
    for k, c in enumerate(range(low, width_p)):
        pos = first + k
        p = p_bits[pos]
        assert p is not None
        if pos == 0:
            tail.append(p)
        else:
            g_prev = gen[pos - 1]
            assert g_prev is not None
            cell = add(names.sum[c], make_xor((p, g_prev), c))
            tail.append((cell, "y"))
    return cells, tuple(tail)


@functools.lru_cache(maxsize=64)
def _output_names(width_p: int) -> tuple[str, ...]:
    return tuple(f"p{c}" for c in range(width_p))


@functools.lru_cache(maxsize=64)
def _output_fields(width_p: int) -> tuple[dict[str, object], ...]:
    """Per product bit, the fields of its ``output`` node but for the input (see
    :func:`~dse.arith._graph.node_factory`: filling a new node's dict is faster than
    ``Node.__init__``)."""
    return tuple(
        dict(vars(Node("output", (), c, role="output", operand="p", bit=c))) for c in range(width_p)
    )


def build(spec: MultiplierSpec, name: str | None = None) -> MultiplierGraph:
    """Build the multiplier graph described by ``spec``."""
    width_p = spec.width_a + spec.width_b
    gb = GraphBuilder(spec.width_a, spec.width_b, spec.signed)
    _operand_inputs(gb)
    mat = _booth_matrix(gb, spec) if spec.encoding == "booth" else _and_matrix(gb, spec)
    if spec.compensate:
        step = 1 << spec.truncate
        mat.constant += round(mat.removed_expectation / step) * step
    _add_constant(gb, mat, width_p, spec.truncate)
    if spec.reduction == "array":
        cols = _reduce_array(gb, mat.bits, width_p)
        if any(len(v) > 2 for v in cols.values()):
            _reduce_wallace(gb, cols, width_p)
    else:
        cols = {c: [s for s, _ in v] for c, v in mat.bits.items()}
        if spec.reduction == "dadda":
            _reduce_dadda(gb, cols, width_p)
        else:
            _reduce_wallace(gb, cols, width_p)
    result = _final_adder(gb, cols, spec)
    nodes = gb.nodes
    has_zero = "zero" in nodes
    new_node = object.__new__
    for c, (sig, fields, out_name) in enumerate(
        zip(result, _output_fields(width_p), _output_names(width_p), strict=True)
    ):
        if c < spec.truncate and has_zero:
            sig = ("zero", "y")
        if out_name in nodes:
            raise GraphError(f"node {out_name!r} added twice")
        node = new_node(Node)
        node.__dict__.update(fields)
        node.__dict__["inputs"] = (sig,)
        nodes[out_name] = node
    info = {
        "generator": name or (spec.encoding if spec.encoding == "booth" else spec.reduction),
        "spec": spec,
        "edits": (),
    }
    # gb.freeze(info) without its copy of the node table (gb is dropped here)
    graph = MultiplierGraph(gb.width_a, gb.width_b, gb.signed, {}, info)
    graph._nodes = gb.nodes
    # Every node above is added after the nodes it reads (signals only ever come from
    # cells already built), so the insertion order is topological and need not be
    # checked node by node (tests check it on random specs).
    graph._insertion_is_topological = True
    return graph


def multiplier(
    width_a: int,
    width_b: int | None = None,
    *,
    signed: bool = False,
    reduction: str = "dadda",
    adder: str = "ripple",
    booth: bool = False,
    pruned: Iterable[PPId] = (),
    truncate: int = 0,
    compensate: bool = False,
    bam: tuple[int, int] = (0, 0),
    loa: int = 0,
) -> MultiplierGraph:
    """An ``width_a × width_b`` multiplier graph.

    Unsigned multipliers use an AND matrix; signed ones Baugh-Wooley, or radix-4
    Booth with ``booth=True`` (Booth works for unsigned operands too, by zero
    extension).
    """
    wb = width_a if width_b is None else width_b
    encoding = "booth" if booth else ("baugh-wooley" if signed else "unsigned")
    spec = MultiplierSpec(
        width_a=width_a,
        width_b=wb,
        signed=signed,
        encoding=encoding,  # type: ignore[arg-type]
        reduction=reduction,  # type: ignore[arg-type]
        adder=adder,  # type: ignore[arg-type]
        pruned=frozenset(pruned),
        truncate=truncate,
        compensate=compensate,
        bam=bam,
        loa=loa,
    )
    return build(spec, "booth" if booth else reduction)
