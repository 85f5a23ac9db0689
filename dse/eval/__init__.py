"""Gate-level evaluation: simulation, product tables, error metrics, power/area/delay."""

from dse.eval._metrics import ErrorMetrics, error_metrics, exact_table, operand_values
from dse.eval._report import (
    HardwareReport,
    OperandDistribution,
    evaluate,
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
    "ErrorMetrics",
    "HardwareReport",
    "OperandDistribution",
    "error_metrics",
    "evaluate",
    "evaluate_netlist",
    "exact_table",
    "exhaustive_input_words",
    "operand_trace",
    "operand_values",
    "pack_operands",
    "product_table",
    "read_outputs",
    "simulate",
    "toggle_statistics",
]
