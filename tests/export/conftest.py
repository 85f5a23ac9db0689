"""A small design for the export tests: a generated multiplier behind the Design
protocol (name, widths, signedness, netlist(), lut())."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import dse.arith
import dse.netlist
from dse.arith import from_spec
from dse.eval import product_table

# the lowering pass is public in dse.arith (graphs lower themselves) or, before that,
# in dse.netlist
lower = getattr(dse.arith, "lower", None) or dse.netlist.lower


class SpecDesign:
    """``from_spec(spec)`` lowered to a netlist named ``name``; the table by simulation."""

    def __init__(self, spec: str, name: str) -> None:
        self.graph = from_spec(spec)
        self.name = name
        self.width_a, self.width_b = self.graph.width_a, self.graph.width_b
        self.signed = self.graph.signed
        self._netlist = lower(self.graph, name=name)

    @property
    def structural_hash(self) -> str:
        return self.graph.structural_hash

    def netlist(self) -> dse.netlist.Netlist:
        return self._netlist

    def lut(self) -> np.ndarray:
        return product_table(self._netlist, self.width_a, self.width_b, signed=self.signed)


@pytest.fixture
def make_design() -> Callable[[str, str], SpecDesign]:
    return SpecDesign
