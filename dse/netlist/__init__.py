"""Gate-level netlists: the flat levelised form, Liberty cell functions, readers and writers."""

from dse.netlist._blif import read_blif, read_blif_text
from dse.netlist._blif_write import write_blif
from dse.netlist._cmodel import write_c
from dse.netlist._kernels import lower_kernel
from dse.netlist._liberty import (
    LibertyGroup,
    liberty_function_table,
    liberty_pin_groups,
    parse_liberty_function,
    parse_liberty_text,
    read_liberty_text,
)
from dse.netlist._netlist import GROUP_SIGNATURES, Netlist, NetlistBuilder, netlist_from_gates
from dse.netlist._netlist import _finish_compiled as finish_compiled
from dse.netlist._ops import _TRUTH as OP_TRUTH
from dse.netlist._ops import (
    ARITY,
    SYMMETRIC_OPS,
    GateOp,
    Op,
    gate_op,
    gate_ops,
    register_gate_op,
    unregister_gate_op,
)
from dse.netlist._ports import group_bit_ports, operand_widths
from dse.netlist._read import NETLIST_FORMATS, netlist_format, read_netlist
from dse.netlist._verilog import read_verilog, read_verilog_text, scan_module_ports
from dse.netlist._verilog_write import write_verilog

__all__ = [
    "ARITY",
    "GROUP_SIGNATURES",
    "NETLIST_FORMATS",
    "OP_TRUTH",
    "SYMMETRIC_OPS",
    "GateOp",
    "LibertyGroup",
    "Netlist",
    "NetlistBuilder",
    "Op",
    "finish_compiled",
    "gate_op",
    "gate_ops",
    "group_bit_ports",
    "liberty_function_table",
    "liberty_pin_groups",
    "lower_kernel",
    "netlist_format",
    "netlist_from_gates",
    "operand_widths",
    "parse_liberty_function",
    "parse_liberty_text",
    "read_blif",
    "read_blif_text",
    "read_liberty_text",
    "read_netlist",
    "read_verilog",
    "read_verilog_text",
    "register_gate_op",
    "scan_module_ports",
    "unregister_gate_op",
    "write_blif",
    "write_c",
    "write_verilog",
]
