"""Gate-level netlists: the flat levelised form, its builder, readers and writers."""

from dse.netlist._blif import read_blif, read_blif_text, write_blif
from dse.netlist._cmodel import write_c
from dse.netlist._kernels import lower_kernel
from dse.netlist._netlist import _SYMMETRIC_INT as SYMMETRIC_OPS
from dse.netlist._netlist import _TRUTH as OP_TRUTH
from dse.netlist._netlist import (
    ARITY,
    GROUP_SIGNATURES,
    Netlist,
    NetlistBuilder,
    Op,
    netlist_from_gates,
)
from dse.netlist._netlist import _finish_compiled as finish_compiled
from dse.netlist._ports import group_bit_ports, operand_widths
from dse.netlist._read import NETLIST_FORMATS, netlist_format, read_netlist
from dse.netlist._verilog import read_verilog, read_verilog_text, write_verilog

__all__ = [
    "ARITY",
    "GROUP_SIGNATURES",
    "NETLIST_FORMATS",
    "OP_TRUTH",
    "SYMMETRIC_OPS",
    "Netlist",
    "NetlistBuilder",
    "Op",
    "finish_compiled",
    "group_bit_ports",
    "lower_kernel",
    "netlist_format",
    "netlist_from_gates",
    "operand_widths",
    "read_blif",
    "read_blif_text",
    "read_netlist",
    "read_verilog",
    "read_verilog_text",
    "write_blif",
    "write_c",
    "write_verilog",
]
