"""tf-approximate's multiplication table: a ``.bin`` of 65,536 little-endian uint16
products of an 8x8 unsigned multiplier, entry ``a * 256 + b``.

This is the file ``ApproxConv2DWithMinMaxVars`` / ``FakeApproxConv2D`` load through
``mul_map_file`` (ehw-fit/tf-approximate, ``approx_ops_types.h``: the table is read
straight into a ``uint16`` vector of ``1 << 16`` entries; without a file it is filled
with ``(i >> 8) * (i & 0xFF)``). Vaverka, Mrazek, Vasicek and Sekanina, "TFApprox:
Towards a Fast Emulation of DNN Approximate Hardware Accelerators on GPU", DATE 2020.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.errors import ConfigError, DataError
from dse.export._base import ExportableDesign, ExportFormat

__all__ = ["TfApproxFormat"]

_ENTRIES = 1 << 16


class TfApproxFormat(ExportFormat):
    name = "tfapprox"
    suffix = ".bin"
    description = "tf-approximate .bin, 65,536 uint16 products of an 8x8 unsigned multiplier"

    def check(self, design: ExportableDesign) -> None:
        if (design.width_a, design.width_b, design.signed) != (8, 8, False):
            kind = "signed" if design.signed else "unsigned"
            raise ConfigError(
                f"{design.name}: tf-approximate's .bin holds an 8x8 unsigned multiplier "
                f"(65,536 uint16 products); this design is {design.width_a}x{design.width_b} "
                f"{kind}"
            )

    def write(self, design: ExportableDesign, path: Path) -> None:
        table = np.asarray(design.lut(), dtype=np.int64)
        if table.min() < 0 or table.max() > 0xFFFF:
            raise ConfigError(
                f"{design.name}: products from {table.min()} to {table.max()} do not fit "
                f"tf-approximate's uint16 entries"
            )
        path.write_bytes(table.astype("<u2").tobytes())  # row-major: a * 256 + b

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        flat = np.frombuffer(path.read_bytes(), dtype="<u2")
        if flat.size != _ENTRIES:
            raise DataError(
                f"{path}: a tf-approximate table holds {_ENTRIES} uint16 entries, "
                f"this file {flat.size}"
            )
        return flat.astype(np.int64).reshape(256, 256)
