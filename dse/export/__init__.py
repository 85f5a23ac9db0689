"""Export designs as files: netlists (Verilog, BLIF, C), product tables (NumPy and the
formats of tf-approximate, AdaPT/TransAxx and TRAM) and generated graphs (JSON).

Each format is one module with one :class:`ExportFormat` subclass; :data:`FORMATS` is
the registry ``dse export --format`` reads. A format defined elsewhere is added with
:func:`register_format`. :func:`export_designs` writes designs in formats and checks
every file by reading it back and comparing it with the design's product table.
"""

from dse.export._base import (
    FORMATS,
    ExportableDesign,
    ExportFormat,
    export_format,
    register_format,
)
from dse.export._export import export_design, export_designs
from dse.export.blif import BlifFormat
from dse.export.cheader import CHeaderFormat
from dse.export.cmodel import CModelFormat
from dse.export.graphjson import GraphJsonFormat
from dse.export.npy import NpyFormat
from dse.export.tfapprox import TfApproxFormat
from dse.export.tramlut import TramLutFormat
from dse.export.verilog import VerilogFormat
from dse.export.verilog_gates import VerilogGatesFormat

__all__ = [
    "FORMATS",
    "ExportFormat",
    "ExportableDesign",
    "export_design",
    "export_designs",
    "export_format",
    "register_format",
]

for _format in (
    VerilogFormat(),
    VerilogGatesFormat(),
    BlifFormat(),
    CModelFormat(),
    NpyFormat(),
    GraphJsonFormat(),
    TfApproxFormat(),
    CHeaderFormat(),
    TramLutFormat(),
):
    register_format(_format)
del _format
