"""Designs: one type for every multiplier a study visits, and its hardware report.

A :class:`Design` has a name, operand widths, signedness, a structural hash, its
netlist (``None`` for a table-only entry), its product table and a
:class:`~dse.eval.HardwareReport`. The kinds are :class:`GraphDesign` (a generated
graph), :class:`NetlistDesign` (an imported netlist) and :class:`TableDesign` (a table
with stored figures); :func:`as_design` wraps a graph or netlist, and :func:`evaluate`
reports on either.

This package composes the layers below it (``dse.arith`` lowers, ``dse.eval`` takes
the netlist); nothing below imports it.
"""

from dse.design._design import (
    Design,
    GraphDesign,
    NetlistDesign,
    as_design,
    evaluate,
    netlist_key,
)
from dse.design._table import TableDesign, TableReport

__all__ = [
    "Design",
    "GraphDesign",
    "NetlistDesign",
    "TableDesign",
    "TableReport",
    "as_design",
    "evaluate",
    "netlist_key",
]
