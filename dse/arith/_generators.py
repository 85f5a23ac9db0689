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

from dse.arith._adders import _final_adder
from dse.arith._graph import GraphBuilder, MultiplierGraph, Node, Signal
from dse.arith._reduction import _reduce_array, _reduce_c42, _reduce_dadda, _reduce_wallace
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
REDUCTIONS = ("array", "wallace", "dadda", "c42")
ADDERS = ("ripple", "kogge-stone")
ENCODINGS = ("unsigned", "baugh-wooley", "booth")

PPId = tuple[int, int]
CUT_MODES = ("zero", "gen")

#: Field metadata of spec fields added after stored designs existed: such a field is
#: left out of :meth:`MultiplierGraph.to_dict` while it has its default, so designs
#: that do not use it are written as before.
_WRITTEN_WHEN_SET = {"written_when_set": True}


@dataclass(frozen=True)
class MultiplierSpec:
    """Everything a partial-product multiplier is built from.

    Attributes:
        width_a, width_b: operand widths (2..16).
        signed: two's complement operands and product.
        encoding: ``unsigned``, ``baugh-wooley`` (signed) or ``booth`` (radix 4).
        reduction: ``array``, ``wallace``, ``dadda`` or ``c42`` (exact 4:2
            compressors, as the ``c42tree`` generator builds them; see
            :mod:`dse.arith._c42tree`).
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
        bias: ``(column, count)`` pairs: ``count * 2**column`` is added to the
            matrix's constant (per-column constant correction, see
            :mod:`dse.arith._bias`); a column removed by truncation drops its bias.
        cuts: ``(column, mode)`` pairs: the final adder's carry into ``column`` is
            cut (``zero``) or speculated from the column below's generate (``gen``);
            see :mod:`dse.arith._cut`.
    """

    width_a: int
    width_b: int
    signed: bool = False
    encoding: Literal["unsigned", "baugh-wooley", "booth"] = "unsigned"
    reduction: Literal["array", "wallace", "dadda", "c42"] = "dadda"
    adder: Literal["ripple", "kogge-stone"] = "ripple"
    pruned: frozenset[PPId] = field(default_factory=frozenset)
    truncate: int = 0
    compensate: bool = False
    bam: tuple[int, int] = (0, 0)
    loa: int = 0
    bias: tuple[tuple[int, int], ...] = field(default=(), metadata=_WRITTEN_WHEN_SET)
    cuts: tuple[tuple[int, str], ...] = field(default=(), metadata=_WRITTEN_WHEN_SET)

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
        if self.bias:
            object.__setattr__(self, "bias", _canonical_bias(self.bias, width_p))
        if self.cuts:
            object.__setattr__(self, "cuts", _canonical_cuts(self.cuts, width_p))
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


def _canonical_bias(bias: Iterable[tuple[int, int]], width_p: int) -> tuple[tuple[int, int], ...]:
    """``(column, count)`` pairs sorted by column, one per column, counts above 0."""
    counts: dict[int, int] = {}
    for item in bias:
        try:
            col, count = (int(x) for x in item)
        except (TypeError, ValueError):
            raise ConfigError(f"bias items are (column, count) pairs, got {item!r}") from None
        if not 0 <= col < width_p:
            raise ConfigError(f"bias column must be in [0, {width_p - 1}], got {col}")
        if count < 0:
            raise ConfigError(f"bias count must be >= 0, got {count} for column {col}")
        counts[col] = counts.get(col, 0) + count
    return tuple((c, n) for c, n in sorted(counts.items()) if n)


def _canonical_cuts(cuts: Iterable[tuple[int, str]], width_p: int) -> tuple[tuple[int, str], ...]:
    """``(column, mode)`` pairs sorted by column, one per column."""
    modes: dict[int, str] = {}
    for item in cuts:
        try:
            col, mode = item
            col = int(col)
        except (TypeError, ValueError):
            raise ConfigError(f"cuts items are (column, mode) pairs, got {item!r}") from None
        if not 1 <= col < width_p:
            raise ConfigError(f"cut column must be in [1, {width_p - 1}], got {col}")
        if mode not in CUT_MODES:
            raise ConfigError(f"cut mode must be one of {CUT_MODES}, got {mode!r} at column {col}")
        if modes.get(col, mode) != mode:
            raise ConfigError(f"column {col} is cut twice, as {modes[col]!r} and {mode!r}")
        modes[col] = mode
    return tuple(sorted(modes.items()))


@dataclass
class _Matrix:
    """Partial-product bits by column, with their rows, plus a constant."""

    bits: dict[int, list[tuple[Signal, int]]] = field(default_factory=lambda: defaultdict(list))
    constant: int = 0
    removed_expectation: float = 0.0


_ZERO = Node("const0", role="const")


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
    booth = spec.encoding == "booth"
    if spec.reduction == "c42" and not booth:
        # the 4:2 tree reads constant 0 (a compressor's cin with nothing to take);
        # added where c42tree adds it, so both build the same graph
        gb.add("zero", _ZERO)
    mat = _booth_matrix(gb, spec) if booth else _and_matrix(gb, spec)
    if spec.compensate:
        step = 1 << spec.truncate
        mat.constant += round(mat.removed_expectation / step) * step
    for col, count in spec.bias:
        if col >= spec.truncate:  # a removed column takes its bias with it
            mat.constant += count << col
    _add_constant(gb, mat, width_p, spec.truncate)
    if spec.reduction == "c42":
        cols = {c: [s for s, _ in v] for c, v in mat.bits.items()}
        _reduce_c42(gb, cols, width_p)
    elif spec.reduction == "array":
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
    bias: Iterable[tuple[int, int]] = (),
    cuts: Iterable[tuple[int, str]] = (),
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
        bias=tuple(bias),
        cuts=tuple(cuts),
    )
    return build(spec, "booth" if booth else reduction)
