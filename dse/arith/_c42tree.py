"""A partial-product multiplier reduced with exact 4:2 compressors.

The classic 4:2 tree (A. Weinberger, "4:2 carry-save adder module", IBM Technical
Disclosure Bulletin 23(8), 1981; M. Nagamatsu et al., "A 15-ns 32x32-b CMOS
multiplier with an improved parallel structure", IEEE JSSC 25(2), 1990): in every
stage each column's bits are taken four at a time into a 4:2 compressor whose ``cin``
is the ``cout`` of a compressor of the column below in the same stage (``cout`` does
not depend on ``cin``, so there is no ripple); ``sum`` stays in the column, ``carry``
moves one column up for the next stage. A column left with three bits gets a full
adder. The team's Dadda/Wallace trees use only full/half adders; this generator gives
the approximate 4:2 compressors of the catalogue something to replace.

Generator ``c42`` builds the same graph from a :class:`MultiplierSpec` with
``reduction="c42"``, so matrix knobs (pruning, truncation, bias, carry cuts) apply to
it; ``c42tree`` graphs carry no spec and take cell knobs only.
"""

from __future__ import annotations

from dse.arith._generators import (
    ADDERS,
    MAX_WIDTH,
    MIN_WIDTH,
    MultiplierSpec,
    _add_constant,
    _and_matrix,
    _final_adder,
    _operand_inputs,
    multiplier,
)
from dse.arith._graph import GraphBuilder, MultiplierGraph, Node
from dse.arith._reduction import _reduce_c42
from dse.arith._registry import register_generator
from dse.errors import ConfigError

__all__ = ["c42_tree"]


def _check(width_a: int, width_b: int, adder: str) -> None:
    for name, w in (("width_a", width_a), ("width_b", width_b)):
        if not isinstance(w, int) or not MIN_WIDTH <= w <= MAX_WIDTH:
            raise ConfigError(f"{name} must be an integer in [{MIN_WIDTH}, {MAX_WIDTH}], got {w!r}")
    if adder not in ADDERS:
        raise ConfigError(f"adder must be one of {ADDERS}, got {adder!r}")


def c42_tree(
    width_a: int, width_b: int, *, signed: bool = False, adder: str = "ripple"
) -> MultiplierGraph:
    """A multiplier whose partial products are reduced by exact 4:2 compressors.

    Unsigned operands use an AND matrix; signed ones the Baugh-Wooley matrix (C. R.
    Baugh, B. A. Wooley, IEEE Trans. Computers C-22(12), 1973). The final adder is
    ``ripple`` or ``kogge-stone``. ``info["spec"]`` is ``None``, so matrix knobs
    (prune, truncate, ...) refuse the graph; cell knobs (``approx``, ``zero``) apply.
    """
    _check(width_a, width_b, adder)
    spec = MultiplierSpec(
        width_a=width_a,
        width_b=width_b,
        signed=bool(signed),
        encoding="baugh-wooley" if signed else "unsigned",
        reduction="dadda",
        adder=adder,  # type: ignore[arg-type]
    )
    width_p = width_a + width_b
    gb = GraphBuilder(width_a, width_b, bool(signed))
    _operand_inputs(gb)
    gb.add("zero", Node("const0", role="const"))
    mat = _and_matrix(gb, spec)
    _add_constant(gb, mat, width_p, 0)
    cols = {c: [s for s, _ in v] for c, v in mat.bits.items()}
    _reduce_c42(gb, cols, width_p)
    result = _final_adder(gb, cols, spec)
    for c, sig in enumerate(result):
        gb.add(f"p{c}", Node("output", (sig,), c, role="output", operand="p", bit=c))
    return gb.freeze({"generator": "c42tree", "spec": None, "edits": ()})


def _generator(width_a: int, width_b: int, *, signed: bool, adder: str) -> MultiplierGraph:
    return c42_tree(width_a, width_b, signed=signed, adder=adder)


def _spec_generator(width_a: int, width_b: int, *, signed: bool, adder: str) -> MultiplierGraph:
    # the same tree built from a MultiplierSpec (reduction "c42"), so that matrix knobs
    # (prune, truncate, bias, cut, ...) rebuild it; c42tree keeps its spec-less graphs
    return multiplier(width_a, width_b, signed=signed, reduction="c42", adder=adder)


register_generator("c42tree", _generator)
register_generator("c42", _spec_generator)
