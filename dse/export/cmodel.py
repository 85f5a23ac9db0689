"""A self-contained C99 function evaluating the gates (a C compiler checks it; dse
has no C reader, so export does not read it back)."""

from __future__ import annotations

from pathlib import Path

from dse.export._base import ExportableDesign, ExportFormat, netlist_of
from dse.netlist import write_c

__all__ = ["CModelFormat"]


class CModelFormat(ExportFormat):
    name = "c"
    suffix = ".c"
    description = "C99 function over the gates"
    needs_netlist = True

    def write(self, design: ExportableDesign, path: Path) -> None:
        path.write_text(write_c(netlist_of(design, self.name)))

    def read(self, path: Path, *, signed: bool) -> None:
        return None
