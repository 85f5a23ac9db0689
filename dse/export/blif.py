"""BLIF (``.names`` covers), as ABC, yosys and TRAM read it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.export._base import ExportableDesign, ExportFormat, netlist_of, netlist_table
from dse.netlist import read_blif, write_blif

__all__ = ["BlifFormat"]


class BlifFormat(ExportFormat):
    name = "blif"
    suffix = ".blif"
    description = "BLIF netlist for ABC, yosys, TRAM"
    needs_netlist = True

    def write(self, design: ExportableDesign, path: Path) -> None:
        path.write_text(write_blif(netlist_of(design, self.name)))

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        return netlist_table(read_blif(path), signed=signed)
