"""``cut``: carry-chain cuts in a multiplier's final carry-propagate adder.

The final adder of a multiplier is its longest path and, with the tree's glitches
arriving at it, a large share of its switching power. Segmented and speculative
adders shorten the carry chain by not waiting for the carry from far below:

* N. Zhu, W. L. Goh, W. Zhang, K. S. Yeo, Z. H. Kong, "Design of low-power high-speed
  truncation-error-tolerant adder and its application in digital signal processing",
  IEEE TVLSI 18(8), 2010 (ETA): the adder is split, no carry crosses the split;
* A. B. Kahng, S. Kang, "Accuracy-configurable adder for approximate arithmetic
  designs", DAC 2012 (ACA): each segment's carry-in is speculated from a short window
  of the bits just below it instead of the whole chain.

A cut at column ``k`` replaces the carry into column ``k``:

* ``zero`` — the carry is 0 (ETA's split): the adder below and above ``k`` are
  independent; the error is ``-2**k`` whenever a carry would have crossed;
* ``gen`` — the carry is the generate ``x AND y`` of column ``k - 1``'s two bits
  (ACA with a one-bit window): exact unless that carry would have been propagated
  from further below, so the error is rarer and the chain still restarts at ``k``.

Both the ripple-carry and the Kogge-Stone adder take cuts (in the prefix network the
position below a cut gets a zero group propagate, so no span looks past it); for the
same matrix the two give the same function. A cut where the LOA part ends cuts (or,
for ``gen``, keeps) the LOA's carry; a cut at a column no carry enters changes
nothing. Value: ``(column, mode)`` pairs, written ``cut=8:zero;11:gen`` in a one-line
spec, or a mapping ``{column: mode}`` or a list of pairs in Python and YAML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from dse.arith._generators import CUT_MODES
from dse.arith._graph import MultiplierGraph
from dse.arith._knob import GeneSpec, Knob, SpaceEntry, column_items, register_knob

# the built-in knobs register first: the registry's order is the genome's order, and
# spaces that do not use this knob keep their genomes
from dse.arith import _knobs  # noqa: F401  isort: skip
from dse.errors import ConfigError, KnobError

__all__ = ["cut_carry_chain"]

_FORM = "COLUMN:MODE items like '8:zero;11:gen' (MODE: zero or gen)"


def _parse(value: Any) -> tuple[tuple[int, str], ...]:
    """Cuts as a spec, YAML or Python gives them → ``(column, mode)`` pairs."""
    pairs = column_items(value, "cut", _FORM, str)
    seen: set[int] = set()
    for col, mode in pairs:
        if col in seen:
            raise KnobError(f"knob 'cut': column {col} is given twice in {value!r}")
        seen.add(col)
        if mode not in CUT_MODES:
            raise KnobError(
                f"knob 'cut': mode {mode!r} at column {col} is not one of {', '.join(CUT_MODES)}"
            )
    return tuple(pairs)


def cut_carry_chain(
    graph: MultiplierGraph, cuts: Mapping[int, str] | Sequence[tuple[int, str]]
) -> MultiplierGraph:
    """Cut (``zero``) or speculate (``gen``) the final adder's carry into each given
    column and rebuild (see the module docstring)."""
    return _CUT.apply(graph, cuts)


class CutConfig(SpaceEntry):
    """``cut`` in a structure space: one choice gene per column (``exact`` or a mode)."""

    columns: tuple[int, int] = Field(description="the first and last column with a gene")
    modes: list[str] = Field(default_factory=lambda: list(CUT_MODES), min_length=1)

    @model_validator(mode="after")
    def _check(self) -> CutConfig:
        if self.columns[0] > self.columns[1]:
            raise ValueError(f"columns {list(self.columns)}: the first must be <= the last")
        bad = [m for m in self.modes if m not in CUT_MODES]
        if bad:
            raise ValueError(f"mode {bad[0]!r} is not one of {', '.join(CUT_MODES)}")
        if len(set(self.modes)) != len(self.modes):
            raise ValueError(f"modes {self.modes} lists a mode twice")
        return self


class CutKnob(Knob):
    """``cut``: carry-chain cuts in the final adder (see the module docstring)."""

    name = "cut"
    kind = "matrix"
    spec_field = "cuts"
    list_valued = True
    space_config = CutConfig

    def parse(self, value: Any) -> tuple[tuple[int, str], ...]:
        return _parse(value)

    def spec_changes(self, spec: Any, value: Any) -> dict[str, Any]:
        # a column given again takes its new mode
        merged = dict(spec.cuts)
        merged.update(self.parse(value))
        return {"cuts": tuple(merged.items())}

    def genes(self, base: MultiplierGraph, config: Any, where: str) -> list[GeneSpec]:
        lo, hi = config.columns
        if lo < 1 or hi > base.width_p - 1:
            raise ConfigError(
                f"{where}: field knobs.cut.columns: {lo}..{hi} must lie within "
                f"1..{base.width_p - 1} (the carry into column 0 does not exist)"
            )
        choices = ("exact", *config.modes)
        return [
            GeneSpec(f"cut.c{c}", "choice", choices=choices, column=c, payload=c)
            for c in range(lo, hi + 1)
        ]

    def decode(
        self,
        genes: Sequence[GeneSpec],
        values: Sequence[int],
        chosen: Mapping[str, Any],
        base: MultiplierGraph,
    ) -> Any | None:
        cuts = tuple((g.payload, g.choices[v]) for g, v in zip(genes, values, strict=True) if v)
        return cuts or None

    def encode(
        self, genes: Sequence[GeneSpec], value: Any, base: MultiplierGraph
    ) -> list[int] | None:
        """The gene values that decode to ``value`` (``None``: a column without a
        gene, or a mode its gene does not offer)."""
        modes = dict(self.parse(value)) if value is not None else {}
        out = []
        for g in genes:
            mode = modes.pop(g.payload, "exact")
            if mode not in g.choices:
                return None
            out.append(g.choices.index(mode))
        if modes:
            return None
        return out


_CUT = CutKnob()
register_knob(_CUT)
