"""The bias and cut knobs and the c42 reduction: semantics, lowering, specs, messages."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dse.arith import (
    KNOBS,
    MultiplierGraph,
    add_column_bias,
    apply_knobs,
    build,
    cut_carry_chain,
    from_spec,
    generate,
    lower,
    multiplier,
    set_output_constant,
)
from dse.errors import ConfigError, KnobError
from dse.eval import product_table
from dse.testing.strategies import moves, small_multipliers

SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lut(g: MultiplierGraph) -> np.ndarray:
    return product_table(lower(g), g.width_a, g.width_b, signed=g.signed)


def wrapped(x: np.ndarray, width_p: int) -> np.ndarray:
    """``x`` modulo ``2**width_p`` (the product register's arithmetic)."""
    return np.mod(x, 1 << width_p)


@st.composite
def moved_multipliers(draw, max_width: int = 5) -> MultiplierGraph:
    """A small multiplier with bias and cuts always, and other matrix knobs at random."""
    graph = draw(small_multipliers(max_width))
    knobs = draw(moves(graph.width_p, always=True))
    if draw(st.booleans()):
        knobs["truncate"] = draw(st.integers(0, graph.width_p - 2))
    if draw(st.booleans()):
        knobs["loa"] = draw(st.integers(0, graph.width_p - 1))
    if draw(st.booleans()):
        knobs["compensate"] = "1"
    return apply_knobs(graph, knobs)


@SLOW
@given(moved_multipliers())
def test_netlist_equals_graph_semantics(graph: MultiplierGraph) -> None:
    # exhaustive: every operand pair of widths up to 5
    graph.validate()
    assert np.array_equal(lut(graph), graph.reference_table())


@FAST
@given(small_multipliers(max_width=6), st.data())
def test_bias_adds_exactly_its_constant(graph: MultiplierGraph, data: st.DataObject) -> None:
    width_p = graph.width_p
    truncate = data.draw(st.integers(0, width_p - 2))
    bias = data.draw(
        st.lists(st.tuples(st.integers(0, width_p - 1), st.integers(1, 3)), min_size=1, max_size=4)
    )
    base = apply_knobs(graph, {"truncate": truncate}) if truncate else graph
    moved = apply_knobs(graph, {"truncate": truncate, "bias": bias})
    # a truncated column drops its bias; the others add count * 2**column
    added = sum(n << c for c, n in bias if c >= truncate)
    assert np.array_equal(wrapped(lut(moved), width_p), wrapped(lut(base) + added, width_p))


@FAST
@given(
    small_multipliers(max_width=6),
    st.sampled_from(["zero", "gen"]),
    st.data(),
)
def test_a_cut_loses_at_most_the_carry_it_cuts(
    graph: MultiplierGraph, mode: str, data: st.DataObject
) -> None:
    # The final adder adds two rows; replacing the carry into column k by 0 or by the
    # generate of column k-1 can only lose that carry: the error is 0 or -2**k, and
    # the speculated carry errs only where the cut one does.
    width_p = graph.width_p
    k = data.draw(st.integers(1, width_p - 1))
    exact = lut(graph)
    err = {
        m: wrapped(lut(cut_carry_chain(graph, {k: m})) - exact, width_p) for m in ("zero", "gen")
    }
    lost = (1 << width_p) - (1 << k)
    assert set(np.unique(err[mode]).tolist()) <= {0, lost}
    assert not ((err["gen"] != 0) & (err["zero"] == 0)).any()


@FAST
@given(moved_multipliers(max_width=6))
def test_ripple_and_kogge_stone_cut_alike(graph: MultiplierGraph) -> None:
    spec = graph.info["spec"]
    other = "kogge-stone" if spec.adder == "ripple" else "ripple"
    twin = build(replace(spec, adder=other), graph.info["generator"])
    assert np.array_equal(lut(graph), lut(twin))


def test_cuts_shorten_the_prefix_adder_and_keep_the_ripple_one() -> None:
    ks = from_spec("dadda:8,adder=kogge-stone")
    ks_cut = from_spec("dadda:8,adder=kogge-stone,cut=8:zero")
    assert lower(ks_cut).gate_count < lower(ks).gate_count
    ripple_cut = from_spec("dadda:8,cut=8:gen")
    # gen: one AND gives the speculated carry
    assert sum(ripple_cut[n].kind == "and2" for n in ripple_cut) == 1
    assert lower(ripple_cut).gate_count <= lower(from_spec("dadda:8")).gate_count + 1


def test_default_fields_keep_hashes_and_descriptions() -> None:
    for spec in ("dadda:8", "booth:8", "array:6,truncate=3,compensate=1", "wallace:5,loa=3"):
        g = from_spec(spec)
        assert g.info["spec"].bias == () and g.info["spec"].cuts == ()
        desc = g.to_dict()["info"]["spec"]
        assert "bias" not in desc and "cuts" not in desc
        # an empty bias or cut builds the very same graph
        same = apply_knobs(g, {"bias": [], "cut": []})
        assert list(same.nodes.items()) == list(g.nodes.items())
    moved = from_spec("dadda:6,bias=3:1,cut=7:gen")
    desc = moved.to_dict()["info"]["spec"]
    assert desc["bias"] == ((3, 1),) and desc["cuts"] == ((7, "gen"),)
    assert MultiplierGraph.from_dict(moved.to_dict()).structural_hash == moved.structural_hash


def test_spec_forms_agree() -> None:
    one_line = from_spec("dadda:8,truncate=3,bias=3:1;5:2,cut=9:zero;11:gen")
    spec = one_line.info["spec"]
    assert spec.truncate == 3
    assert spec.bias == ((3, 1), (5, 2))
    assert spec.cuts == ((9, "zero"), (11, "gen"))
    by_knobs = apply_knobs(
        generate("dadda", 8),
        {"truncate": 3, "bias": {5: 2, 3: 1}, "cut": [(11, "gen"), (9, "zero")]},
    )
    by_keywords = multiplier(8, truncate=3, bias=[(3, 1), (5, 2)], cuts=[(9, "zero"), (11, "gen")])
    by_function = cut_carry_chain(
        add_column_bias(from_spec("dadda:8,truncate=3"), [(3, 1), (5, 2)]),
        "9:zero,11:gen",
    )
    hashes = {g.structural_hash for g in (one_line, by_knobs, by_keywords, by_function)}
    assert len(hashes) == 1
    # applied twice, biases add up and a cut takes its latest mode
    twice = add_column_bias(add_column_bias(generate("dadda", 6), "2:1"), "2:1")
    assert twice.info["spec"].bias == ((2, 2),)
    recut = cut_carry_chain(cut_carry_chain(generate("dadda", 6), "5:zero"), "5:gen")
    assert recut.info["spec"].cuts == ((5, "gen"),)


def test_c42_generator_is_the_c42tree_with_a_spec() -> None:
    for signed in (False, True):
        for adder in ("ripple", "kogge-stone"):
            spec_tree = generate("c42", 6, 5, signed=signed, adder=adder)
            plain = generate("c42tree", 6, 5, signed=signed, adder=adder)
            assert list(spec_tree.nodes.items()) == list(plain.nodes.items())
            assert spec_tree.structural_hash == plain.structural_hash
            assert spec_tree.info["spec"].reduction == "c42"
    pruned = from_spec("c42:6,truncate=2,prune=3:3,bias=2:1,cut=6:gen")
    pruned.validate()
    assert np.array_equal(lut(pruned), pruned.reference_table())
    with pytest.raises(KnobError, match=r"^knob 'bias' rewrites the partial-product matrix"):
        from_spec("c42tree:6,bias=2:1")


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"bias": "3-1"}, r"^knob 'bias': expected COLUMN:COUNT items like '3:1;5:2', got '3-1'$"),
        ({"bias": "3:x"}, r"^knob 'bias': expected COLUMN:COUNT items"),
        ({"bias": "3:-1"}, r"^knob 'bias': count -1 for column 3 must be >= 0$"),
        ({"bias": "9:1"}, r"^knob 'bias': bias column must be in \[0, 7\], got 9$"),
        ({"cut": "5"}, r"^knob 'cut': expected COLUMN:MODE items like '8:zero;11:gen'"),
        ({"cut": "5:half"}, r"^knob 'cut': mode 'half' at column 5 is not one of zero, gen$"),
        ({"cut": "5:zero;5:gen"}, r"^knob 'cut': column 5 is given twice"),
        ({"cut": "0:zero"}, r"^knob 'cut': cut column must be in \[1, 7\], got 0$"),
        ({"cut": 7}, r"^knob 'cut': expected COLUMN:MODE items"),
    ],
)
def test_bad_values_name_the_knob(knobs: dict, message: str) -> None:
    with pytest.raises(KnobError, match=message):
        apply_knobs(generate("dadda", 4), knobs)


def test_bad_spec_value_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^knob 'cut': mode 'g' at column 9") as info:
        from_spec("dadda:8,cut=9:g")
    assert "\n" not in str(info.value)


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_encode_inverts_decode(data: st.DataObject) -> None:
    base = generate("dadda", 6)
    bias = KNOBS["bias"]
    cut = KNOBS["cut"]
    bias_genes = bias.genes(base, bias.space_config(columns=(2, 7), high=3), "t.yaml")
    cut_genes = cut.genes(base, cut.space_config(columns=(4, 9), modes=["gen", "zero"]), "t.yaml")
    for knob, genes in ((bias, bias_genes), (cut, cut_genes)):
        values = [
            data.draw(st.integers(g.low, g.high if g.kind != "choice" else len(g.choices) - 1))
            for g in genes
        ]
        value = knob.decode(genes, values, {}, base)
        assert knob.encode(genes, value, base) == values
    # what the genes cannot say
    assert bias.encode(bias_genes, "1:1", base) is None  # column 1 has no gene
    assert bias.encode(bias_genes, "3:4", base) is None  # above high
    assert cut.encode(cut_genes, "10:gen", base) is None
    restricted = cut.genes(base, cut.space_config(columns=(4, 5), modes=["zero"]), "t.yaml")
    assert cut.encode(restricted, "4:gen", base) is None
    assert cut.encode(restricted, "5:zero", base) == [0, 1]


def test_a_matrix_knob_registered_after_the_cell_knobs_is_still_applied_first() -> None:
    # bias and cut are registered after zero/approx; given with a cell knob alone they
    # must still rebuild the tree before the cell edit, as apply_knobs promises
    base = from_spec("dadda:4,bias=1:1")
    cell = next(n for n in base.topological_order if base[n].kind == "fa")
    both = from_spec(f"dadda:4,zero={cell}.sum,bias=1:1")
    assert both.structural_hash == set_output_constant(base, cell, "sum").structural_hash
