"""A generator and a cell type defined outside the package, registered and used."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from dse.arith import (
    CELL_TYPES,
    GENERATORS,
    CellType,
    MultiplierGraph,
    from_spec,
    generate,
    lower,
    register_cell_type,
    register_generator,
    replace_cell,
)
from dse.errors import DseError
from dse.eval import exact_table, product_table
from dse.netlist import NetlistBuilder, Op


def _fast_array(width_a: int, width_b: int, *, signed: bool, adder: str) -> MultiplierGraph:
    """An array multiplier that always ends in a Kogge-Stone adder."""
    return generate("array", width_a, width_b, signed=signed, adder="kogge-stone")


def test_a_registered_generator_is_a_spec_name() -> None:
    register_generator("toy_array", _fast_array)
    try:
        g = from_spec("toy_array:6x4")
        assert g.structural_hash == generate("array", 6, 4, adder="kogge-stone").structural_hash
        table = product_table(lower(g), 6, 4, signed=False)
        assert np.array_equal(table, exact_table(6, 4, False))
    finally:
        del GENERATORS["toy_array"]


def _carry_is_a(v: Sequence[int]) -> tuple[int, int]:
    a, b, c = v
    return a ^ b ^ c, a


def _low_carry_is_a(bld: NetlistBuilder, n: Sequence[int]) -> Sequence[int]:
    a, b, c = n
    return bld.gate(Op.XOR, bld.gate(Op.XOR, a, b), c), a


def test_a_registered_cell_type_replaces_a_full_adder() -> None:
    toy = CellType(
        name="toy.carry_a",
        inputs=("a", "b", "cin"),
        outputs=("sum", "cout"),
        offsets=(0, 1),
        function=_carry_is_a,
        lower=_low_carry_is_a,
        compressor=True,
        exact=False,
        family="fa",
    )
    register_cell_type(toy)
    try:
        g = from_spec("dadda:4")
        fa = g.nodes_of(kind="fa")[0]
        approx = replace_cell(g, fa, "toy.carry_a")
        assert approx.structural_hash != g.structural_hash
        table = product_table(lower(approx), 4, 4, signed=False)
        exact = exact_table(4, 4, False)
        assert not np.array_equal(table, exact)
        # the gate-level table is the graph's own reference semantics
        assert np.array_equal(table, approx.reference_table())
    finally:
        del CELL_TYPES["toy.carry_a"]
    with pytest.raises(DseError, match=r"toy\.carry_a"):
        replace_cell(g, fa, "toy.carry_a")
