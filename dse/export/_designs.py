"""Designs for what the generators and search spaces produce: a multiplier graph, or a
library entry holding a graph, a netlist or only a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.eval import product_table
from dse.export._base import ExportableDesign
from dse.netlist import Netlist, lower

__all__ = ["design_of"]


@dataclass
class _GraphDesign:
    """A generated multiplier; its netlist is lowered under the design's name, with the
    readable ``node_port`` net names the written netlists show."""

    graph: Any
    name: str
    _netlist: Netlist | None = field(default=None, init=False, repr=False)
    _lut: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def width_a(self) -> int:
        return int(self.graph.width_a)

    @property
    def width_b(self) -> int:
        return int(self.graph.width_b)

    @property
    def signed(self) -> bool:
        return bool(self.graph.signed)

    @property
    def structural_hash(self) -> str:
        return str(self.graph.structural_hash)

    def netlist(self) -> Netlist:
        if self._netlist is None:
            self._netlist = lower(self.graph, name=self.name)
        return self._netlist

    def lut(self) -> np.ndarray:
        if self._lut is None:
            self._lut = product_table(
                self.netlist(), self.width_a, self.width_b, signed=self.signed
            )
        return self._lut


@dataclass
class _EntryDesign:
    """A library entry with a netlist of its own (kept as read, module name included) or
    only a product table."""

    name: str
    width_a: int
    width_b: int
    signed: bool
    structural_hash: str
    _netlist: Netlist | None = field(default=None, repr=False)
    _table: np.ndarray | None = field(default=None, repr=False)

    def netlist(self) -> Netlist | None:
        return self._netlist

    def lut(self) -> np.ndarray:
        if self._table is None:
            assert self._netlist is not None
            self._table = product_table(
                self._netlist, self.width_a, self.width_b, signed=self.signed
            )
        return self._table


def design_of(obj: Any, *, name: str) -> ExportableDesign:
    """``obj`` as a design named ``name``: a ``MultiplierGraph``, or a library entry
    (:class:`dse.search.LibraryMultiplier`) holding a graph, a netlist or a table."""
    if hasattr(obj, "nodes_of"):
        return _GraphDesign(obj, name)
    graph = getattr(obj, "graph", None)
    if graph is not None and hasattr(graph, "nodes_of"):
        return _GraphDesign(graph, name)
    netlist, table = getattr(obj, "netlist", None), getattr(obj, "lut", None)
    if isinstance(netlist, Netlist) or isinstance(table, np.ndarray):
        return _EntryDesign(
            name,
            int(obj.width_a),
            int(obj.width_b),
            bool(obj.signed),
            str(obj.structural_hash),
            netlist if isinstance(netlist, Netlist) else None,
            None if isinstance(netlist, Netlist) else np.asarray(table),
        )
    raise TypeError(f"design_of: cannot make a design of {type(obj).__name__}")
