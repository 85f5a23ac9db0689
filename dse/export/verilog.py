"""Structural Verilog (one continuous assignment per gate), read back by dse's reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.export._base import ExportableDesign, ExportFormat, netlist_of, netlist_table
from dse.netlist import read_verilog, write_verilog

__all__ = ["VerilogFormat"]


class VerilogFormat(ExportFormat):
    name = "verilog"
    suffix = ".v"
    description = "gate-level Verilog, one assign per gate"
    needs_netlist = True

    def write(self, design: ExportableDesign, path: Path) -> None:
        path.write_text(write_verilog(netlist_of(design, self.name)))

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        return netlist_table(read_verilog([path]), signed=signed)
