"""Gate-level netlists: the flat levelised form, lowering from graphs, readers and writers."""

from dse.netlist._netlist import ARITY, GROUP_SIGNATURES, Netlist, NetlistBuilder, Op, netlist_from_gates

__all__ = ["ARITY", "GROUP_SIGNATURES", "Netlist", "NetlistBuilder", "Op", "netlist_from_gates"]
