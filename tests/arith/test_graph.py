"""MultiplierGraph validation errors name the node; JSON round trip; networkx view."""

from dataclasses import replace

import numpy as np
import pytest

from dse.arith import MultiplierGraph, Node, multiplier
from dse.errors import GraphError


def mutate(g, name, **changes):
    return g.replace_nodes({name: replace(g[name], **changes)})


def test_validate_accepts_generated():
    assert multiplier(4).validate() is not None


def test_missing_driver_is_named():
    g = multiplier(3)
    fa = g.nodes_of(kind="ha")[0]
    bad = mutate(g, fa, inputs=(("ghost", "y"), g[fa].inputs[1]))
    with pytest.raises(GraphError, match=rf"^node '{fa}' input 'a' reads missing node 'ghost'$"):
        bad.validate()


def test_wrong_port_is_named():
    g = multiplier(3)
    ha = g.nodes_of(kind="ha")[0]
    bad = mutate(g, ha, inputs=((g[ha].inputs[0][0], "q"), g[ha].inputs[1]))
    with pytest.raises(GraphError, match=rf"^node '{ha}' input 'a' reads port 'q'"):
        bad.validate()


def test_cycle_is_reported_with_its_path():
    g = multiplier(3)
    ha = g.nodes_of(kind="ha")[0]
    users = [n for n in g if any(s == ha for s, _ in g[n].inputs) and g[n].kind != "output"]
    user = users[0]
    bad = mutate(g, ha, inputs=((user, "sum"), g[ha].inputs[1]))
    with pytest.raises(GraphError, match=r"^graph has a cycle: .*->"):
        bad.validate()


def test_undriven_product_bit():
    g = multiplier(3)
    bad = g.replace_nodes({"p2": None})
    with pytest.raises(GraphError, match=r"^product bit p2 is not driven$"):
        bad.validate()


def test_column_inconsistency_is_named():
    g = multiplier(3)
    ha = g.nodes_of(kind="ha")[0]
    bad = mutate(g, ha, column=g[ha].column + 1)
    with pytest.raises(
        GraphError,
        match=rf"^node '{ha}' input 'a' reads .* of column \d+, but the node works in column \d+$",
    ):
        bad.validate()


def test_wrong_input_count():
    g = multiplier(3)
    ha = g.nodes_of(kind="ha")[0]
    bad = mutate(g, ha, kind="fa")
    with pytest.raises(GraphError, match=rf"^node '{ha}' \(fa\) has 2 inputs, its kind takes 3"):
        bad.validate()


def test_json_round_trip_keeps_hash_and_table():
    g = multiplier(4, signed=True, truncate=2)
    back = MultiplierGraph.from_dict(g.to_dict())
    assert back.structural_hash == g.structural_hash
    assert np.array_equal(back.reference_table(), g.reference_table())


def test_networkx_view_has_ported_edges():
    g = multiplier(3)
    nxg = g.nx
    assert nxg.number_of_nodes() == len(g)
    ha = g.nodes_of(kind="ha")[0]
    preds = list(nxg.predecessors(ha))
    assert preds and all("ports" in nxg.edges[p, ha] for p in preds)
    assert nxg.nodes[ha]["kind"] == "ha"


def test_graph_is_immutable():
    g = multiplier(3)
    with pytest.raises(TypeError):
        g.nodes["a0"] = Node("input")  # type: ignore[index]
