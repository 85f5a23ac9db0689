"""Gate-level evaluation: simulation, product tables, error metrics, power/area/delay."""

from dse.eval._liberty import read_liberty, read_liberty_cells
from dse.eval._library import CellLibrary, liberty_md5
from dse.eval._metrics import (
    ErrorMetrics,
    PeerMetrics,
    error_metrics,
    exact_table,
    operand_values,
    peer_metrics,
)
from dse.eval._power import PowerEstimate, estimate_power, map_to_cells
from dse.eval._report import (
    HardwareReport,
    OperandDistribution,
    evaluate_netlist,
    operand_trace,
    product_table,
)
from dse.eval._sim import (
    MAX_EXHAUSTIVE_BITS,
    exhaustive_input_words,
    pack_operands,
    read_outputs,
    simulate,
    toggle_statistics,
)

__all__ = [
    "MAX_EXHAUSTIVE_BITS",
    "CellLibrary",
    "ErrorMetrics",
    "HardwareReport",
    "OperandDistribution",
    "PeerMetrics",
    "PowerEstimate",
    "error_metrics",
    "estimate_power",
    "evaluate_netlist",
    "exact_table",
    "exhaustive_input_words",
    "liberty_md5",
    "map_to_cells",
    "operand_trace",
    "operand_values",
    "pack_operands",
    "peer_metrics",
    "product_table",
    "read_liberty",
    "read_liberty_cells",
    "read_outputs",
    "simulate",
    "toggle_statistics",
]
