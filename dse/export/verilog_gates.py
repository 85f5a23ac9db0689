"""Structural Verilog of gate primitives (``and``, ``or``, ``xor``, ...), for tools that
take primitives rather than continuous assignments; read back by dse's reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.export._base import ExportableDesign, ExportFormat, netlist_of, netlist_table
from dse.netlist import read_verilog, write_verilog

__all__ = ["VerilogGatesFormat"]


class VerilogGatesFormat(ExportFormat):
    name = "verilog-gates"
    suffix = ".gates.v"
    description = "gate-level Verilog of and/or/xor/... primitives"
    needs_netlist = True

    def write(self, design: ExportableDesign, path: Path) -> None:
        path.write_text(write_verilog(netlist_of(design, self.name), style="gates"))

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        return netlist_table(read_verilog([path]), signed=signed)
