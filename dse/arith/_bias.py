"""``bias``: per-column constant compensation of the partial-product matrix.

Truncating columns, pruning partial products and tying compressor outputs to 0 all
remove non-negative weight from an unsigned matrix, so their error is one-sided and
its mean is far from 0. A constant added to the matrix centres it, which lowers the
mean error distance (MED/NMED) and the mean relative error for the price of a few
constant-1 bits, which lowering folds into the cells that read them (a full adder with
a constant-1 input becomes an XNOR and an OR):

* M. J. Schulte, E. E. Swartzlander, "Truncated multiplication with correction
  constant", VLSI Signal Processing VI, 1993 — one constant, the expected value of
  the removed bits (dse's ``compensate``);
* E. J. King, E. E. Swartzlander, "Data-dependent truncation scheme for parallel
  multipliers", Asilomar 1997 (variable-correction truncation) — the correction
  depends on what is removed, not on one global estimate.

``compensate`` computes one constant from a uniform-operand model of what pruning and
truncation remove; it cannot see the error of approximate cells, constant-0 outputs,
LOA or carry cuts, nor the operand distribution a network feeds the multiplier.
``bias`` makes the constant free: one small ordinal gene per low column adds that many
``2**column`` to the matrix's constant, so a search can centre whatever error the
other moves leave. The per-column genes are a redundant binary code of the constant
(gene ``c`` counts ``0..high`` units of ``2**c``); a mutation of one gene is a small
step of the constant, which keeps the landscape smooth.

Value: ``(column, count)`` pairs, written ``bias=3:1;5:2`` in a one-line spec (items
separated by ``;``), a mapping ``{column: count}`` or a list of pairs in Python and
YAML. A column removed by truncation drops its bias with it. Applied twice, counts
add up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from dse.arith._graph import MultiplierGraph
from dse.arith._knob import GeneSpec, Knob, SpaceEntry, column_items, register_knob

# the built-in knobs register first: the registry's order is the genome's order, and
# spaces that do not use this knob keep their genomes
from dse.arith import _knobs  # noqa: F401  isort: skip
from dse.errors import ConfigError, KnobError

__all__ = ["add_column_bias"]

#: the largest count one gene may add to its column
MAX_COUNT = 7


def _parse(value: Any) -> tuple[tuple[int, int], ...]:
    """A bias as a spec, YAML or Python gives it → ``(column, count)`` pairs."""
    pairs = column_items(value, "bias", "COLUMN:COUNT items like '3:1;5:2'", int)
    for col, count in pairs:
        if count < 0:
            raise KnobError(f"knob 'bias': count {count} for column {col} must be >= 0")
    return tuple(pairs)


def add_column_bias(
    graph: MultiplierGraph, bias: Mapping[int, int] | Sequence[tuple[int, int]]
) -> MultiplierGraph:
    """Add ``count * 2**column`` for each ``(column, count)`` to the matrix's constant
    and rebuild the tree (see the module docstring)."""
    return _BIAS.apply(graph, bias)


class BiasConfig(SpaceEntry):
    """``bias`` in a structure space: one ordinal gene ``0..high`` per column."""

    columns: tuple[int, int] = Field(description="the first and last column with a gene")
    high: int = Field(1, ge=1, le=MAX_COUNT, description="the largest count per column")

    @model_validator(mode="after")
    def _order(self) -> BiasConfig:
        if self.columns[0] > self.columns[1]:
            raise ValueError(f"columns {list(self.columns)}: the first must be <= the last")
        return self


class BiasKnob(Knob):
    """``bias``: per-column constant bits added to the matrix (see the module docstring)."""

    name = "bias"
    kind = "matrix"
    list_valued = True
    space_config = BiasConfig

    def parse(self, value: Any) -> tuple[tuple[int, int], ...]:
        return _parse(value)

    def spec_changes(self, spec: Any, value: Any) -> dict[str, Any]:
        return {"bias": (*spec.bias, *self.parse(value))}

    def genes(self, base: MultiplierGraph, config: Any, where: str) -> list[GeneSpec]:
        lo, hi = config.columns
        if lo < 0 or hi > base.width_p - 1:
            raise ConfigError(
                f"{where}: field knobs.bias.columns: {lo}..{hi} must lie within "
                f"0..{base.width_p - 1}"
            )
        return [
            GeneSpec(f"bias.c{c}", "ordinal", 0, config.high, column=c, payload=c)
            for c in range(lo, hi + 1)
        ]

    def decode(
        self,
        genes: Sequence[GeneSpec],
        values: Sequence[int],
        chosen: Mapping[str, Any],
        base: MultiplierGraph,
    ) -> Any | None:
        pairs = tuple((g.payload, int(v)) for g, v in zip(genes, values, strict=True) if v)
        return pairs or None

    def encode(
        self, genes: Sequence[GeneSpec], value: Any, base: MultiplierGraph
    ) -> list[int] | None:
        """The gene values that decode to ``value`` (``None``: a column without a
        gene, or a count above the genes' range)."""
        counts: dict[int, int] = {}
        for col, count in self.parse(value) if value is not None else ():
            counts[col] = counts.get(col, 0) + count
        out = []
        for g in genes:
            count = counts.pop(g.payload, 0)
            if count > g.high:
                return None
            out.append(count)
        if any(counts.values()):
            return None
        return out


_BIAS = BiasKnob()
register_knob(_BIAS)
