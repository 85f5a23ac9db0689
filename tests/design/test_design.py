"""Designs: every kind gives its netlist, table and report; the report is the evaluator's."""

import numpy as np
import pytest

from dse.arith import from_spec, lower
from dse.design import (
    Design,
    GraphDesign,
    NetlistDesign,
    TableDesign,
    as_design,
    evaluate,
    netlist_key,
)
from dse.errors import ConfigError
from dse.eval import evaluate_netlist, product_table


def test_graph_design_matches_the_evaluator() -> None:
    graph = from_spec("dadda:4,truncate=2")
    design = as_design(graph)
    assert isinstance(design, GraphDesign) and isinstance(design, Design)
    assert (design.width_a, design.width_b, design.signed) == (4, 4, False)
    report = design.report()
    direct = evaluate_netlist(lower(graph, net_names=False), signed=False, source="dadda")
    assert report.to_dict() | {"seconds": 0} == direct.to_dict() | {
        "seconds": 0,
        "structural_hash": graph.structural_hash,
    }
    assert np.array_equal(design.lut(), report.lut)
    assert design.netlist().net_names  # readable, for writers


def test_netlist_design_is_keyed_by_its_text() -> None:
    netlist = lower(from_spec("dadda:4,truncate=2"), "t2")
    design = as_design(netlist)
    assert isinstance(design, NetlistDesign)
    assert design.structural_hash == netlist_key(netlist)
    assert np.array_equal(design.lut(), product_table(netlist, 4, 4, signed=False))
    assert evaluate(design).structural_hash == design.structural_hash


def test_table_design_reports_its_stored_figures() -> None:
    report = evaluate(from_spec("dadda:4,truncate=2"), clock_period_ns=2.0)
    figures = report.to_dict()
    table = TableDesign("t2", "key", False, 4, 4, report.lut, figures)
    assert table.netlist() is None
    got = table.report(clock_period_ns=5.0)  # the stored figures hold
    for key in ("power_uw", "area_um2", "delay_ns", "energy_per_op_fj", "med", "nmed"):
        assert getattr(got, key) == figures[key]
    assert got.gates == figures["gates"] and got.clock_period_ns == 2.0
    bare = TableDesign(
        "t2",
        "key",
        False,
        4,
        4,
        report.lut,
        {"power_uw": 3.0, "area_um2": 1.0, "delay_ns": 0.5, "gates": 7},
    )
    got = bare.report()
    assert (got.dynamic_uw, got.leakage_uw, got.energy_per_op_fj) == (3.0, 0.0, 3.0)
    assert got.nmed == report.nmed  # measured on the table
    with pytest.raises(ConfigError, match="'t2' is a LUT without metrics"):
        TableDesign("t2", "key", False, 4, 4, report.lut).report()
    with pytest.raises(ConfigError, match="its metrics JSON lacks 'gates'"):
        TableDesign(
            "t2",
            "key",
            False,
            4,
            4,
            report.lut,
            {"power_uw": 1.0, "area_um2": 1.0, "delay_ns": 1.0},
        ).report()


def test_as_design_names_what_it_cannot_take() -> None:
    with pytest.raises(ConfigError, match="got int"):
        as_design(3)
