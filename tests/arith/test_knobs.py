"""Approximation knobs: netlist == reference semantics, validity, monotone cost, messages."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dse.arith import (
    apply_knobs,
    broken_array,
    from_spec,
    generate,
    lower,
    lower_part_or_adder,
    multiplier,
    prune_partial_products,
    replace_cell,
    set_output_constant,
    truncate_columns,
)
from dse.errors import ConfigError, KnobError
from dse.eval import exact_table, product_table
from dse.testing.strategies import knobbed_multipliers


def lut(g):
    return product_table(lower(g), g.width_a, g.width_b, signed=g.signed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(knobbed_multipliers(max_width=5))
def test_netlist_equals_reference_for_random_knobs(graph):
    graph.validate()
    assert np.array_equal(lut(graph), graph.reference_table())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(knobbed_multipliers(max_width=5), st.data())
def test_structural_hash_ignores_names(graph, data):
    # Renaming every node (a different construction) keeps the hash.
    names = {
        n: f"n{i}_{data.draw(st.integers(0, 9))}" for i, n in enumerate(graph.topological_order)
    }
    nodes = {}
    for old, node in graph.nodes.items():
        from dataclasses import replace

        nodes[names[old]] = replace(node, inputs=tuple((names[s], p) for s, p in node.inputs))
    items = list(nodes.items())
    data.draw(st.randoms()).shuffle(items)
    from dse.arith import MultiplierGraph

    renamed = MultiplierGraph(graph.width_a, graph.width_b, graph.signed, dict(items))
    assert renamed.structural_hash == graph.structural_hash


def test_hash_distinguishes_structures():
    hashes = {
        from_spec(s).structural_hash
        for s in [
            "dadda:8",
            "wallace:8",
            "array:8",
            "dadda:8,truncate=2",
            "dadda:8,signed",
            "booth:8",
        ]
    }
    assert len(hashes) == 6


def test_truncation_zeroes_low_bits_and_compensation_reduces_bias():
    g = truncate_columns(multiplier(8), 6)
    t = lut(g)
    assert not (t & 63).any()
    exact = exact_table(8, 8, False)
    bias = (t - exact).mean()
    bias_c = (lut(truncate_columns(multiplier(8), 6, compensate=True)) - exact).mean()
    assert abs(bias_c) < abs(bias)


def test_prune_removes_exactly_that_product_term():
    g = prune_partial_products(multiplier(4), [(1, 2)])
    a = np.arange(16)[:, None]
    b = np.arange(16)[None, :]
    want = a * b - (((a >> 1) & 1) * ((b >> 2) & 1) << 3)
    assert np.array_equal(lut(g), want)


def test_broken_array_matches_its_definition():
    g = broken_array(multiplier(6, reduction="array"), 2, 5)
    a = np.arange(64)[:, None]
    b = np.arange(64)[None, :]
    want = np.zeros((64, 64), dtype=np.int64)
    for i in range(6):
        for j in range(6):
            if j < 2 or i + j < 5:
                continue
            want += (((a >> i) & 1) * ((b >> j) & 1)) << (i + j)
    assert np.array_equal(lut(g), want)


@pytest.mark.parametrize("adder", ["ripple", "kogge-stone"])
def test_lower_part_or_adder_is_loa(adder):
    g = lower_part_or_adder(multiplier(5, adder=adder), 4)
    assert np.array_equal(lut(g), g.reference_table())
    assert not np.array_equal(lut(g), exact_table(5, 5, False))
    assert any(g[n].kind == "or2" for n in g)


def test_zero_output_ties_to_zero_and_shrinks():
    g = multiplier(6)
    fa = g.nodes_of(kind="fa")[3]
    g2 = set_output_constant(g, fa, "cout")
    assert g2[fa].forced == {"cout"}
    assert lower(g2).gate_count < lower(g).gate_count
    assert np.array_equal(lut(g2), g2.reference_table())
    assert g2.info["edits"] == (("zero", fa, "cout"),)


def test_replace_cell_by_half_adder_drops_the_third_input():
    g = multiplier(4)
    fa = g.nodes_of(kind="fa")[0]
    g2 = replace_cell(g, fa, "ha")
    assert g2[fa].kind == "ha" and len(g2[fa].inputs) == 2
    assert np.array_equal(lut(g2), g2.reference_table())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["array", "wallace", "dadda", "booth"]),
    st.integers(3, 8),
    st.integers(3, 8),
    st.booleans(),
    st.data(),
)
def test_removing_logic_never_increases_gate_count(gen, wa, wb, signed, data):
    g = generate(gen, wa, wb, signed=signed)
    base = lower(g).gate_count
    rows, cols = g.info["spec"].pp_grid
    pps = data.draw(
        st.lists(
            st.tuples(st.integers(0, rows - 1), st.integers(0, cols - 1)), min_size=1, max_size=6
        )
    )
    pruned = prune_partial_products(g, pps)
    assert lower(pruned).gate_count <= base
    k = data.draw(st.integers(1, wa + wb - 2))
    assert lower(truncate_columns(g, k)).gate_count <= lower(truncate_columns(g, k - 1)).gate_count
    cells = g.nodes_of(role="tree")
    if cells:
        node = data.draw(st.sampled_from(cells))
        port = data.draw(st.sampled_from(["sum", "cout"]))
        assert lower(set_output_constant(g, node, port)).gate_count <= base


def test_knob_errors_name_the_knob():
    g = multiplier(4)
    with pytest.raises(KnobError, match=r"^unknown knob 'shave'; known knobs: prune, truncate"):
        apply_knobs(g, {"shave": 1})
    with pytest.raises(KnobError, match=r"^knob 'truncate': expected an integer, got 'x'$"):
        apply_knobs(g, {"truncate": "x"})
    with pytest.raises(KnobError, match=r"^knob 'truncate': truncate must be in \[0, 7\], got 9$"):
        apply_knobs(g, {"truncate": "9"})
    with pytest.raises(KnobError, match=r"^knob 'zero': graph has no node 'fa_nope'$"):
        set_output_constant(g, "fa_nope", "sum")
    with pytest.raises(KnobError, match=r"^knob 'prune': expected a list like '0:0,1:2'"):
        apply_knobs(g, {"prune": "3-3"})
    with pytest.raises(KnobError, match=r"^knob 'approx': unknown cell kind 'fa9'"):
        replace_cell(g, g.nodes_of(kind="fa")[0], "fa9")
    edited = set_output_constant(g, g.nodes_of(kind="fa")[0], "sum")
    with pytest.raises(KnobError, match=r"apply matrix knobs \(prune, truncate, bam, loa\) first"):
        truncate_columns(edited, 2)


def test_spec_strings():
    g = from_spec("dadda:8x6,signed,adder=kogge-stone,truncate=3")
    assert (g.width_a, g.width_b, g.signed) == (8, 6, True)
    assert g.info["spec"].truncate == 3
    with pytest.raises(ConfigError, match=r"is not of the form GEN:WIDTH"):
        from_spec("dadda8")
    with pytest.raises(ConfigError, match=r"unknown option 'speed'"):
        from_spec("dadda:8,speed=3")
