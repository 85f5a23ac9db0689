"""Exact generators give exact products (exhaustively up to 8x8, sampled beyond)."""

import itertools

import numpy as np
import pytest

from dse.arith import MultiplierSpec, build, generate, lower, multiplier
from dse.errors import ConfigError
from dse.eval import (
    exact_table,
    operand_values,
    pack_operands,
    product_table,
    read_outputs,
    simulate,
)

KINDS = [("unsigned", False, False), ("baugh-wooley", True, False), ("booth", True, True)]


@pytest.mark.parametrize("encoding,signed,booth", KINDS)
@pytest.mark.parametrize("reduction", ["array", "wallace", "dadda"])
def test_exact_exhaustive_all_width_pairs_up_to_8x8(encoding, signed, booth, reduction):
    for wa, wb in itertools.product(range(2, 9), repeat=2):
        for adder in ("ripple", "kogge-stone"):
            g = multiplier(wa, wb, signed=signed, booth=booth, reduction=reduction, adder=adder)
            lut = product_table(lower(g), wa, wb, signed=signed)
            assert np.array_equal(lut, exact_table(wa, wb, signed)), (
                encoding,
                reduction,
                adder,
                wa,
                wb,
            )


def test_unsigned_booth_is_exact():
    for wa, wb in itertools.product(range(2, 7), repeat=2):
        g = multiplier(wa, wb, signed=False, booth=True)
        assert np.array_equal(
            product_table(lower(g), wa, wb, signed=False), exact_table(wa, wb, False)
        )


@pytest.mark.parametrize("width", [12, 16])
@pytest.mark.parametrize(
    "gen,signed", [("dadda", False), ("wallace", True), ("booth", True), ("array", False)]
)
def test_exact_wide_on_random_pairs(width, gen, signed):
    g = generate(gen, width, signed=signed)
    nl = lower(g)
    rng = np.random.default_rng(width)
    a = rng.integers(0, 1 << width, 100_000)
    b = rng.integers(0, 1 << width, 100_000)
    got = read_outputs(nl, simulate(nl, pack_operands(a, b, width, width)), a.size, signed=signed)
    want = operand_values(width, signed)[a] * operand_values(width, signed)[b]
    assert np.array_equal(got, want)


def test_unequal_wide_widths():
    g = generate("dadda", 16, 9, signed=True, adder="kogge-stone")
    nl = lower(g)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 1 << 16, 20_000)
    b = rng.integers(0, 1 << 9, 20_000)
    got = read_outputs(nl, simulate(nl, pack_operands(a, b, 16, 9)), a.size, signed=True)
    assert np.array_equal(got, operand_values(16, True)[a] * operand_values(9, True)[b])


def test_reference_semantics_match_on_small_widths():
    for gen, signed in [("dadda", False), ("array", True), ("booth", True), ("wallace", False)]:
        g = generate(gen, 4, 3, signed=signed)
        assert np.array_equal(g.reference_table(), exact_table(4, 3, signed))


def test_generated_graphs_validate_and_count_cells():
    g = multiplier(8)
    g.validate()
    s = g.summary()
    assert s["pp_and"] == 64
    # Dadda 8x8: 35 FA + 7 HA in the tree, then a ripple adder over the two rows
    tree = [n for n in g.nodes_of(role="tree")]
    kinds = [g[n].kind for n in tree]
    assert kinds.count("fa") == 35 and kinds.count("ha") == 7


def test_dadda_tree_is_the_smallest():
    # Dadda reduces as late as possible and so uses the fewest tree cells.
    sizes = {r: len(multiplier(8, reduction=r).nodes_of(role="tree")) for r in ("dadda", "wallace")}
    assert sizes["dadda"] < sizes["wallace"]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(width_a=1, width_b=8), r"^width_a must be an integer in \[2, 16\], got 1$"),
        (dict(width_a=8, width_b=17), r"^width_b must be an integer in \[2, 16\], got 17$"),
        (dict(width_a=8, width_b=8, reduction="tree"), r"^reduction must be one of"),
        (dict(width_a=8, width_b=8, adder="carry-skip"), r"^adder must be one of"),
        (dict(width_a=4, width_b=4, truncate=8), r"^truncate must be in \[0, 7\], got 8$"),
        (
            dict(width_a=4, width_b=4, pruned=frozenset({(4, 0)})),
            r"^partial product \(4, 0\) does not exist",
        ),
    ],
)
def test_spec_validation_messages(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build(MultiplierSpec(**kwargs))


def test_generate_rejects_unknown_generator_and_width():
    with pytest.raises(ConfigError, match=r"^unknown generator 'karatsuba'; known: "):
        generate("karatsuba", 8)
    with pytest.raises(ConfigError, match=r"^width must be in \[2, 16\], got 40$"):
        generate("dadda", 40)
