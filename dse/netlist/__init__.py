"""Gate-level netlists: the flat levelised form, lowering from graphs, readers and writers."""

from dse.netlist._blif import write_blif
from dse.netlist._cmodel import write_c
from dse.netlist._lower import lower
from dse.netlist._netlist import (
    ARITY,
    GROUP_SIGNATURES,
    Netlist,
    NetlistBuilder,
    Op,
    netlist_from_gates,
)
from dse.netlist._verilog import read_verilog, read_verilog_text, write_verilog

__all__ = [
    "ARITY",
    "GROUP_SIGNATURES",
    "Netlist",
    "NetlistBuilder",
    "Op",
    "lower",
    "netlist_from_gates",
    "read_verilog",
    "read_verilog_text",
    "write_blif",
    "write_c",
    "write_verilog",
]
