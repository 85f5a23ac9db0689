"""Catalogue of published approximate full adders, half adders and 4:2 compressors.

Every cell is registered as a :class:`~dse.arith.CellType` with ``compressor=True``,
``exact=False`` and ``family`` naming the exact cell it replaces (``"fa"``, ``"ha"``
or ``"c42"``); port names follow the exact cell so that
:func:`~dse.arith.replace_cell` maps them by name (inputs a design lacks are dropped,
outputs it lacks read as 0).

Truth tables and where they were checked (see ``docs/approximate-cells.md``):

* AMA1–AMA5: V. Gupta, D. Mohapatra, A. Raghunathan, K. Roy, "Low-power digital
  signal processing using approximate adders", IEEE TCAD 32(1), 2013, Table I
  (approximations 1–5 of the mirror adder). Cross-checked against the cell models of
  the public AxC-Adders library (SalvatoreBarone/AxC-Adders, ``src/AMA*_adder.cpp``).
  The paper gives transistor-level (mirror-adder) circuits; the lowerings here are
  minimal gate forms of the same functions.
* AXA2, AXA3: Z. Yang, A. Jain, J. Liang, J. Han, F. Lombardi, "Approximate
  XOR/XNOR-based adders for inexact computing", IEEE NANO 2013. Cross-checked
  against AxC-Adders ``src/AXA2_adder.cpp``, ``src/AXA3_adder.cpp``. The paper gives
  pass-transistor circuits built around one XNOR; the lowerings use an XNOR gate and
  the exact majority carry.
* LOA bit: H. R. Mahdiani, A. Ahmadi, S. M. Fakhraie, C. Lucas, "Bio-inspired
  imprecise computational blocks for efficient VLSI implementation of soft-computing
  applications", IEEE TCAS-I 57(4), 2010: the lower-part cell is one OR gate and
  produces no carry.
* Momeni Design 1 / Design 2: A. Momeni, J. Han, P. Montuschi, F. Lombardi, "Design
  and analysis of approximate compressors for multiplication", IEEE Trans. Computers
  64(4), 2015. Equations as implemented by the public Chisel ``approx`` library
  (``approx.multiplication.Compressor4to2D1/D2``); the "non-zero output for all-zero
  inputs" property they imply is the limitation later papers point out (e.g. J. Gu,
  Y. Kim, IEIE Trans. Smart Processing and Computing 11(3), 2022).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product

from dse.arith._cells import CELL_TYPES, CellType, register_cell_type
from dse.errors import ConfigError
from dse.netlist import NetlistBuilder, Op

__all__ = [
    "APPROXIMATE_CELLS",
    "PUBLISHED_ERRORS",
    "approximate_kinds",
    "cell_gate_count",
    "error_profile",
]

_GUPTA = (
    "V. Gupta, D. Mohapatra, A. Raghunathan, K. Roy, 'Low-power digital signal "
    "processing using approximate adders', IEEE Trans. CAD 32(1):124-137, 2013"
)
_YANG = (
    "Z. Yang, A. Jain, J. Liang, J. Han, F. Lombardi, 'Approximate XOR/XNOR-based "
    "adders for inexact computing', IEEE NANO 2013, pp. 690-693"
)
_MAHDIANI = (
    "H. R. Mahdiani, A. Ahmadi, S. M. Fakhraie, C. Lucas, 'Bio-inspired imprecise "
    "computational blocks for efficient VLSI implementation of soft-computing "
    "applications', IEEE TCAS-I 57(4):850-862, 2010 (lower-part OR adder cell)"
)
_MOMENI = (
    "A. Momeni, J. Han, P. Montuschi, F. Lombardi, 'Design and analysis of approximate "
    "compressors for multiplication', IEEE Trans. Computers 64(4):984-994, 2015"
)

Fn = Callable[[Sequence[int]], Sequence[int]]
Low = Callable[[NetlistBuilder, Sequence[int]], Sequence[int]]


def _maj(a: int, b: int, c: int) -> int:
    return (a & b) | (a & c) | (b & c)


# ----------------------------------------------------------------- full adders
# Port order a, b, cin -> sum, cout (as the exact "fa").


def _ama1(v: Sequence[int]) -> tuple[int, int]:
    a, b, c = v
    return c & (1 - (a ^ b)), b | (a & c)


def _low_ama1(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    a, b, c = n
    return bld.gate(Op.AND, c, bld.gate(Op.XNOR, a, b)), bld.gate(Op.OR, b, bld.gate(Op.AND, a, c))


def _ama2(v: Sequence[int]) -> tuple[int, int]:
    cout = _maj(*v)
    return 1 - cout, cout


def _low_ama2(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    cout = bld.gate(Op.MAJ, *n)
    return bld.inv(cout), cout


def _ama3(v: Sequence[int]) -> tuple[int, int]:
    a, b, c = v
    cout = b | (a & c)
    return 1 - cout, cout


def _low_ama3(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    a, b, c = n
    cout = bld.gate(Op.OR, b, bld.gate(Op.AND, a, c))
    return bld.inv(cout), cout


def _ama4(v: Sequence[int]) -> tuple[int, int]:
    a, b, c = v
    return c & ((1 - a) | b), a


def _low_ama4(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    a, b, c = n
    return bld.gate(Op.AND, c, bld.gate(Op.OR, bld.inv(a), b)), a


def _ama5(v: Sequence[int]) -> tuple[int, int]:
    a, b, _ = v
    return b, a


def _low_ama5(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    return n[1], n[0]


def _axa2(v: Sequence[int]) -> tuple[int, int]:
    a, b, _ = v
    return 1 - (a ^ b), _maj(*v)


def _low_axa2(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    return bld.gate(Op.XNOR, n[0], n[1]), bld.gate(Op.MAJ, *n)


def _axa3(v: Sequence[int]) -> tuple[int, int]:
    a, b, c = v
    return c & (1 - (a ^ b)), _maj(*v)


def _low_axa3(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    return bld.gate(Op.AND, n[2], bld.gate(Op.XNOR, n[0], n[1])), bld.gate(Op.MAJ, *n)


# ----------------------------------------------------------------- half adder


def _loa(v: Sequence[int]) -> tuple[int]:
    return (v[0] | v[1],)


def _low_loa(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    return (bld.gate(Op.OR, n[0], n[1]),)


# ------------------------------------------------------------ 4:2 compressors
# Ports x1..x4[, cin] -> sum, carry[, cout] (as the exact "c42").


def _momeni1(v: Sequence[int]) -> tuple[int, int, int]:
    x1, x2, x3, x4, cin = v
    s = (1 - cin) & ((1 - (x1 ^ x2)) | (1 - (x3 ^ x4)))
    return s, cin, (x1 & x2) | (x3 & x4)


def _low_momeni1(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    x1, x2, x3, x4, cin = n
    both = bld.gate(Op.AND, bld.gate(Op.XOR, x1, x2), bld.gate(Op.XOR, x3, x4))
    s = bld.gate(Op.NOR, cin, both)
    cout = bld.gate(Op.OR, bld.gate(Op.AND, x1, x2), bld.gate(Op.AND, x3, x4))
    return s, cin, cout


def _momeni2(v: Sequence[int]) -> tuple[int, int]:
    x1, x2, x3, x4 = v
    return (1 - (x1 ^ x2)) | (1 - (x3 ^ x4)), (x1 & x2) | (x3 & x4)


def _low_momeni2(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    x1, x2, x3, x4 = n
    s = bld.gate(Op.NAND, bld.gate(Op.XOR, x1, x2), bld.gate(Op.XOR, x3, x4))
    carry = bld.gate(Op.OR, bld.gate(Op.AND, x1, x2), bld.gate(Op.AND, x3, x4))
    return s, carry


def _fa_cell(name: str, fn: Fn, low: Low, citation: str) -> CellType:
    return CellType(
        name=name,
        inputs=("a", "b", "cin"),
        outputs=("sum", "cout"),
        offsets=(0, 1),
        function=fn,
        lower=low,
        compressor=True,
        exact=False,
        symmetric=False,
        family="fa",
        citation=citation,
    )


_DEFINITIONS: tuple[CellType, ...] = (
    _fa_cell("ama1", _ama1, _low_ama1, _GUPTA + ", approximation 1"),
    _fa_cell("ama2", _ama2, _low_ama2, _GUPTA + ", approximation 2"),
    _fa_cell("ama3", _ama3, _low_ama3, _GUPTA + ", approximation 3"),
    _fa_cell("ama4", _ama4, _low_ama4, _GUPTA + ", approximation 4"),
    _fa_cell("ama5", _ama5, _low_ama5, _GUPTA + ", approximation 5"),
    _fa_cell("axa2", _axa2, _low_axa2, _YANG + ", AXA2"),
    _fa_cell("axa3", _axa3, _low_axa3, _YANG + ", AXA3"),
    CellType(
        name="loa_or",
        inputs=("a", "b"),
        outputs=("sum",),
        offsets=(0,),
        function=_loa,
        lower=_low_loa,
        compressor=True,
        exact=False,
        symmetric=True,
        family="ha",
        citation=_MAHDIANI,
    ),
    CellType(
        name="momeni_d1",
        inputs=("x1", "x2", "x3", "x4", "cin"),
        outputs=("sum", "carry", "cout"),
        offsets=(0, 1, 1),
        function=_momeni1,
        lower=_low_momeni1,
        compressor=True,
        exact=False,
        family="c42",
        citation=_MOMENI + ", Design 1",
    ),
    CellType(
        name="momeni_d2",
        inputs=("x1", "x2", "x3", "x4"),
        outputs=("sum", "carry"),
        offsets=(0, 1),
        function=_momeni2,
        lower=_low_momeni2,
        compressor=True,
        exact=False,
        family="c42",
        citation=_MOMENI + ", Design 2 (no carry-in/out)",
    ),
)

#: Published error figures per cell: ``(erroneous input combinations, total
#: combinations, sorted error distances)`` as given by (or read off the truth table in)
#: the paper. The tests check the registered functions against them.
PUBLISHED_ERRORS: dict[str, tuple[int, int, tuple[int, ...]]] = {
    # Gupta et al. 2013, Table I: x marks per approximation (errors are +-1).
    "ama1": (2, 8, (-1, 1)),
    "ama2": (2, 8, (-1, 1)),
    "ama3": (3, 8, (-1, 1, 1)),
    "ama4": (3, 8, (-1, -1, 1)),
    "ama5": (4, 8, (-1, -1, 1, 1)),
    # Yang et al. 2013: AXA2 wrong in 4 of 8 cases, AXA3 in 2 of 8 (all by 1).
    "axa2": (4, 8, (-1, -1, 1, 1)),
    "axa3": (2, 8, (-1, -1)),
    # LOA: 1 + 1 gives 1 (no carry).
    "loa_or": (1, 4, (-1,)),
}

for _cell in _DEFINITIONS:
    if _cell.name not in CELL_TYPES:
        register_cell_type(_cell)

#: The catalogue, by kind name.
APPROXIMATE_CELLS: dict[str, CellType] = {c.name: CELL_TYPES[c.name] for c in _DEFINITIONS}


def approximate_kinds(family: str) -> list[str]:
    """The catalogue kinds that can replace cells of ``family`` (``fa``, ``ha``, ``c42``)."""
    families = sorted({c.family for c in APPROXIMATE_CELLS.values() if c.family})
    if family not in families:
        raise ConfigError(f"family must be one of {families}, got {family!r}")
    return [name for name, c in APPROXIMATE_CELLS.items() if c.family == family]


def error_profile(kind: str) -> dict[str, float]:
    """Error statistics of a compressor cell over all (equally likely) inputs.

    ``value`` is the weighted sum of the outputs (``sum`` weight 1, carries weight 2);
    returns ``er`` (error rate), ``mean_error`` (mean signed error), ``med`` (mean
    error distance), ``max_ed`` (largest error distance) and ``n_errors``.
    """
    if kind not in CELL_TYPES:
        raise ConfigError(f"unknown cell kind {kind!r}")
    cell = CELL_TYPES[kind]
    if not cell.compressor:
        raise ConfigError(f"cell kind {kind!r} is not a compressor")
    diffs = []
    for bits in product((0, 1), repeat=len(cell.inputs)):
        outs = cell.function(list(bits))
        value = sum(int(o) << int(off or 0) for o, off in zip(outs, cell.offsets, strict=True))
        diffs.append(value - sum(bits))
    n = len(diffs)
    wrong = [d for d in diffs if d]
    return {
        "n_errors": float(len(wrong)),
        "er": len(wrong) / n,
        "mean_error": sum(diffs) / n,
        "med": sum(abs(d) for d in diffs) / n,
        "max_ed": float(max((abs(d) for d in diffs), default=0)),
    }


def cell_gate_count(kind: str) -> int:
    """Gates (excluding constants and buffers) of the cell's lowering on free inputs."""
    cell = CELL_TYPES[kind]
    bld = NetlistBuilder(kind, [("x", len(cell.inputs))])
    outs = cell.lower(bld, bld.input("x"))
    return bld.build([("y", list(outs))]).gate_count


# The 4:2-compressor tree generator registers itself as "c42tree".
from dse.arith import _c42tree as _c42tree  # noqa: E402
