"""The structure IR: multiplier graphs, generators, approximation knobs and lowering.

Making a multiplier:

* :func:`generate` — by generator name (``array``, ``wallace``, ``dadda``, ``booth``,
  the log multipliers, the 4:2 tree, any :func:`register_generator` adds), then knobs;
* :func:`from_spec` — the same from a one-line spec (``dadda:8x6,truncate=4``), as the
  command line, study files and library spaces give it;
* :func:`build` — a partial-product multiplier from a :class:`MultiplierSpec` (what
  every matrix knob rebuilds with); :func:`multiplier` makes that spec from keywords,
  with any encoding and reduction (e.g. Booth over a Wallace tree, which no generator
  name gives).

Knobs are registered :class:`Knob` objects (:data:`KNOBS`, :func:`register_knob`);
:func:`lower` turns a graph into a :class:`~dse.netlist.Netlist`.
"""

from dse.arith._bias import add_column_bias
from dse.arith._catalogue import approximate_kinds
from dse.arith._cells import CELL_TYPES, CellType, cell_type, register_cell_type
from dse.arith._cut import cut_carry_chain
from dse.arith._generators import (
    ADDERS,
    ENCODINGS,
    MAX_WIDTH,
    MIN_WIDTH,
    REDUCTIONS,
    MultiplierSpec,
    build,
    multiplier,
)
from dse.arith._graph import MultiplierGraph, Node, Signal
from dse.arith._knob import (
    KNOBS,
    LIST_KNOBS,
    GeneSpec,
    Knob,
    RangeConfig,
    SpaceEntry,
    check_range,
    register_knob,
)
from dse.arith._knobs import (
    apply_knob,
    apply_knobs,
    broken_array,
    lower_part_or_adder,
    prune_partial_products,
    replace_cell,
    set_output_constant,
    truncate_columns,
)
from dse.arith._lower import lower
from dse.arith._registry import (
    GENERATORS,
    ParsedSpec,
    from_spec,
    generate,
    parse_spec,
    register_generator,
    spec_signed_default,
)

__all__ = [
    "ADDERS",
    "CELL_TYPES",
    "ENCODINGS",
    "GENERATORS",
    "KNOBS",
    "LIST_KNOBS",
    "MAX_WIDTH",
    "MIN_WIDTH",
    "REDUCTIONS",
    "CellType",
    "GeneSpec",
    "Knob",
    "MultiplierGraph",
    "MultiplierSpec",
    "Node",
    "ParsedSpec",
    "RangeConfig",
    "Signal",
    "SpaceEntry",
    "add_column_bias",
    "apply_knob",
    "apply_knobs",
    "approximate_kinds",
    "broken_array",
    "build",
    "cell_type",
    "check_range",
    "cut_carry_chain",
    "from_spec",
    "generate",
    "lower",
    "lower_part_or_adder",
    "multiplier",
    "parse_spec",
    "prune_partial_products",
    "register_cell_type",
    "register_generator",
    "register_knob",
    "replace_cell",
    "set_output_constant",
    "spec_signed_default",
    "truncate_columns",
]

# The approximate-cell catalogue, the 4:2-compressor tree and the logarithmic family
# register their cells and generators when imported, the bias and cut knobs (imported
# above) theirs; importing them here makes every registered name available wherever
# dse.arith is.
from dse.arith import _c42tree, _catalogue, _logarithmic  # noqa: F401
