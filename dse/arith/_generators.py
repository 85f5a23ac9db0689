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
from dataclasses import dataclass, field, replace
from typing import Literal

from dse.arith._graph import GraphBuilder, MultiplierGraph, Node, Signal
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
) -> tuple[tuple[int, int, int, bool, str, str, Node], ...]:
    """Per AND-matrix bit ``a_i b_j`` in generation order: ``(i, j, column, negative,
    name, the const-1 name if pruned, node)``. The same for every build of one shape, and
    nodes are immutable, so rebuilds (every matrix knob) share them."""
    out = []
    for j in range(m):
        for i in range(n):
            col = i + j
            negative = signed and ((i == n - 1) != (j == m - 1))
            kind = "pp_nand" if negative else "pp_and"
            node = Node(kind, ((f"a{i}", "y"), (f"b{j}", "y")), col, role="pp", row=j)
            out.append((i, j, col, negative, f"pp_{i}_{j}", f"one_pp_{i}_{j}", node))
    return tuple(out)


def _and_matrix(gb: GraphBuilder, spec: MultiplierSpec) -> _Matrix:
    mat = _Matrix()
    bits = mat.bits
    nodes = gb.nodes
    keeps = spec.keeps
    for i, j, col, negative, name, one_name, node in _and_cells(
        spec.width_a, spec.width_b, spec.signed
    ):
        if not keeps((i, j), col):
            # Pruned: a_i b_j counts as 0. A Baugh-Wooley term then contributes
            # NAND(0) 2^k - 2^k = 0: its bit becomes a constant 1 in place, so the
            # tree keeps its shape and only simplifies (and the -2^k stays).
            mat.removed_expectation += (-0.25 if negative else 0.25) * (1 << col)
            if negative and col >= spec.truncate:
                gb.add(one_name, Node("const1", (), col, role="const", row=j))
                bits[col].append(((one_name, "y"), j))
                mat.constant -= 1 << col
            continue
        if name in nodes:
            raise GraphError(f"node {name!r} added twice")
        nodes[name] = node
        bits[col].append(((name, "y"), j))
        if negative:
            mat.constant -= 1 << col
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


def _reduce_dadda(gb: GraphBuilder, cols: dict[int, list[Signal]], width_p: int) -> None:
    max_h = max((len(v) for v in cols.values()), default=0)
    targets = [2]
    while targets[-1] < max_h:
        targets.append(targets[-1] * 3 // 2)
    for stage, target in enumerate(reversed(targets[:-1])):
        new: dict[int, list[Signal]] = defaultdict(list)
        carry_in: list[Signal] = []
        for c in range(width_p):
            avail = list(cols.get(c, []))
            h = len(avail) + len(carry_in)
            out: list[Signal] = []
            carries: list[Signal] = []
            while h > target and len(avail) >= 2:
                if h - target >= 2 and len(avail) >= 3:
                    trio = (avail.pop(0), avail.pop(0), avail.pop(0))
                    cell = gb.cell(f"fa_s{stage}_c{c}", "fa", trio, c, "tree")
                    h -= 2
                else:
                    pair = (avail.pop(0), avail.pop(0))
                    cell = gb.cell(f"ha_s{stage}_c{c}", "ha", pair, c, "tree")
                    h -= 1
                out.append((cell, "sum"))
                carries.append((cell, "cout"))
            new[c] = avail + out + carry_in
            carry_in = carries if c + 1 < width_p else []
        cols.clear()
        cols.update(new)


def _reduce_wallace(gb: GraphBuilder, cols: dict[int, list[Signal]], width_p: int) -> None:
    stage = 0
    while any(len(v) > 2 for v in cols.values()):
        new: dict[int, list[Signal]] = defaultdict(list)
        for c in range(width_p):
            avail = list(cols.get(c, []))
            while len(avail) >= 3:
                trio = (avail.pop(0), avail.pop(0), avail.pop(0))
                cell = gb.cell(f"fa_s{stage}_c{c}", "fa", trio, c, "tree")
                new[c].append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "cout"))
            if len(avail) == 2 and len(cols.get(c, [])) > 2:
                pair = (avail.pop(0), avail.pop(0))
                cell = gb.cell(f"ha_s{stage}_c{c}", "ha", pair, c, "tree")
                new[c].append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "cout"))
            new[c].extend(avail)
        cols.clear()
        cols.update(new)
        stage += 1


def _reduce_array(
    gb: GraphBuilder, bits: dict[int, list[tuple[Signal, int]]], width_p: int
) -> dict[int, list[Signal]]:
    """Carry-save array: add the rows one after another, carries to the next row."""
    rows: dict[int, dict[int, list[Signal]]] = defaultdict(lambda: defaultdict(list))
    for col, entries in bits.items():
        for sig, row in entries:
            rows[row][col].append(sig)
    acc: dict[int, list[Signal]] = defaultdict(list)
    for r in sorted(rows):
        row_bits = rows[r]
        new: dict[int, list[Signal]] = defaultdict(list)
        for c in range(width_p):
            ins = acc.get(c, []) + row_bits.get(c, [])
            while len(ins) >= 2:
                if len(ins) >= 3:
                    trio = (ins.pop(0), ins.pop(0), ins.pop(0))
                    cell = gb.cell(f"fa_r{r}_c{c}", "fa", trio, c, "tree")
                else:
                    pair = (ins.pop(0), ins.pop(0))
                    cell = gb.cell(f"ha_r{r}_c{c}", "ha", pair, c, "tree")
                if len(ins) == 0:
                    new[c].append((cell, "sum"))
                else:
                    ins.append((cell, "sum"))
                if c + 1 < width_p:
                    new[c + 1].append((cell, "cout"))
            new[c].extend(ins)
        acc = new
    return acc


def _final_adder(
    gb: GraphBuilder, cols: dict[int, list[Signal]], spec: MultiplierSpec
) -> list[Signal]:
    width_p = spec.width_a + spec.width_b
    zero = "zero"
    if zero not in gb.nodes:
        gb.add(zero, Node("const0", role="const"))
    zsig: Signal = (zero, "y")
    result: list[Signal] = []
    carry: Signal | None = None
    for c in range(min(spec.loa, width_p)):
        ins = cols.get(c, [])
        if len(ins) == 0:
            result.append(zsig)
        elif len(ins) == 1:
            result.append(ins[0])
        else:
            # LOA: the low part's sum is a bitwise OR; its top AND feeds the carry-in.
            cell = gb.cell(f"loa_or_c{c}", "or2", (ins[0], ins[1]), None, "cpa")
            result.append((cell, "y"))
        if c == spec.loa - 1 and len(ins) >= 2:
            carry = (gb.cell(f"loa_and_c{c}", "and2", (ins[0], ins[1]), None, "cpa"), "y")
    start = len(result)
    if spec.adder == "ripple":
        for c in range(start, width_p):
            ins = list(cols.get(c, []))
            if carry is not None:
                ins.append(carry)
                carry = None
            if len(ins) == 0:
                result.append(zsig)
            elif len(ins) == 1:
                result.append(ins[0])
            else:
                kind = "fa" if len(ins) == 3 else "ha"
                cell = gb.cell(f"cpa_{kind}_c{c}", kind, tuple(ins), c, "cpa")
                result.append((cell, "sum"))
                carry = (cell, "cout") if c + 1 < width_p else None
        return result
    # Kogge-Stone over the columns from the first one that has two bits.
    low = start
    while low < width_p and len(cols.get(low, [])) < 2 and carry is None:
        ins = cols.get(low, [])
        result.append(ins[0] if ins else zsig)
        low += 1
    if low >= width_p:
        return result
    gen: list[Signal | None] = []
    prop: list[Signal | None] = []
    if carry is not None:
        gen.append(carry)  # carry-in as a position with p = 0
        prop.append(None)
    first = len(gen)
    for c in range(low, width_p):
        ins = list(cols.get(c, []))
        x = ins[0] if ins else zsig
        y = ins[1] if len(ins) > 1 else zsig
        cell = gb.cell(f"pg_c{c}", "pg", (x, y), c, "cpa")
        gen.append((cell, "g"))
        prop.append((cell, "p"))
    p_bits = list(prop)
    dist = 1
    n_pos = len(gen)
    while dist < n_pos:
        new_g, new_p = list(gen), list(prop)
        for i in range(dist, n_pos):
            if prop[i] is None:
                continue  # span already reaches position 0
            gh, ph, gl, pl = gen[i], prop[i], gen[i - dist], prop[i - dist]
            assert gh is not None and ph is not None and gl is not None
            if pl is None:
                cell = gb.cell(f"ks_gray_d{dist}_i{i}", "gray", (gh, ph, gl), None, "cpa")
                new_g[i], new_p[i] = (cell, "g"), None
            else:
                cell = gb.cell(f"ks_black_d{dist}_i{i}", "black", (gh, ph, gl, pl), None, "cpa")
                new_g[i], new_p[i] = (cell, "g"), (cell, "p")
        gen, prop = new_g, new_p
        dist *= 2
    for k, c in enumerate(range(low, width_p)):
        pos = first + k
        p = p_bits[pos]
        assert p is not None
        if pos == 0:
            result.append(p)
        else:
            g_prev = gen[pos - 1]
            assert g_prev is not None
            cell = gb.cell(f"sum_c{c}", "xor2", (p, g_prev), c, "cpa")
            result.append((cell, "y"))
    return result


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
    for c, sig in enumerate(result):
        if c < spec.truncate:
            sig = ("zero", "y") if "zero" in gb.nodes else sig
        gb.add(f"p{c}", Node("output", (sig,), c, role="output", operand="p", bit=c))
    info = {
        "generator": name or (spec.encoding if spec.encoding == "booth" else spec.reduction),
        "spec": spec,
        "edits": (),
    }
    graph = gb.freeze(info)
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


def rebuild(graph: MultiplierGraph, **changes: object) -> MultiplierGraph:
    """Rebuild a generated graph with some spec fields changed (used by matrix knobs)."""
    spec = graph.info.get("spec")
    if not isinstance(spec, MultiplierSpec):
        raise ConfigError(
            "this knob rewrites the partial-product matrix and needs a graph made by a "
            "partial-product generator (array, wallace, dadda, booth)"
        )
    return build(replace(spec, **changes), graph.info.get("generator"))  # type: ignore[arg-type]
