"""The structure IR: multiplier graphs, generators and approximation knobs."""

from dse.arith._cells import CELL_TYPES, CellType, cell_type, register_cell_type
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
from dse.arith._registry import GENERATORS, from_spec, generate, register_generator

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
    "RangeConfig",
    "Signal",
    "SpaceEntry",
    "apply_knob",
    "apply_knobs",
    "broken_array",
    "build",
    "cell_type",
    "check_range",
    "from_spec",
    "generate",
    "lower",
    "lower_part_or_adder",
    "multiplier",
    "prune_partial_products",
    "register_cell_type",
    "register_generator",
    "register_knob",
    "replace_cell",
    "set_output_constant",
    "truncate_columns",
]
