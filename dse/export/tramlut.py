"""TRAM's LUT text: an ``INFO:`` header, then ``LUT for approximate multiplier:`` and one
``a b product`` line per operand pair, ``a`` outer.

This is what TRAM's simulator prints for a BLIF multiplier and what its phase 3 loads
with ``--lut_file_name`` (changmg/TRAM, ``simulator/sim.py``,
``self_ops/ops_py/approx_ops.py``): lines before the ``LUT for`` line are skipped;
signed operands and products are written as signed values, the operands in code order
(0 … 127, -128 … -1 for 8 bits). Meng, Wang, Ye, Yu, Burleson and De Micheli, "TRAM:
Training Approximate Multiplier Structures for Low-Power AI Accelerators".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.errors import ConfigError, DataError
from dse.export._base import ExportableDesign, ExportFormat

__all__ = ["TramLutFormat"]

_MARKER = "LUT for approximate multiplier:"
#: TRAM's simulator takes up to 20 input bits (10 per operand)
_MAX_WIDTH = 10


def _operand_values(width: int, signed: bool) -> np.ndarray:
    codes = np.arange(1 << width, dtype=np.int64)
    return np.where(codes >> (width - 1), codes - (1 << width), codes) if signed else codes


class TramLutFormat(ExportFormat):
    name = "tramlut"
    suffix = ".lut.txt"
    description = "TRAM's LUT text, 'a b product' lines, square up to 10x10"

    def check(self, design: ExportableDesign) -> None:
        if design.width_a != design.width_b or design.width_a > _MAX_WIDTH:
            raise ConfigError(
                f"{design.name}: TRAM's LUT text is for square multipliers up to "
                f"{_MAX_WIDTH}x{_MAX_WIDTH}; this design is {design.width_a}x{design.width_b}"
            )

    def write(self, design: ExportableDesign, path: Path) -> None:
        table = np.asarray(design.lut(), dtype=np.int64)
        a = _operand_values(design.width_a, design.signed).tolist()
        b = _operand_values(design.width_b, design.signed).tolist()
        kind = "Signed" if design.signed else "Unsigned"
        lines = [f"INFO: {kind} approximate multiplier", _MARKER]
        for va, row in zip(a, table.tolist(), strict=True):
            lines.extend(f"{va} {vb} {p}" for vb, p in zip(b, row, strict=True))
        path.write_text("\n".join(lines) + "\n")

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        text = path.read_text()
        start = text.find(_MARKER)
        if start < 0:
            raise DataError(f"{path}: no '{_MARKER}' line")
        body = text[start + len(_MARKER) :].split("\n", 1)[-1]
        # a TRAM file may go on with gradient tables after the products
        body = body.split("LUT for", 1)[0]
        try:
            triples = np.array(body.split(), dtype=np.int64).reshape(-1, 3)
        except ValueError:
            raise DataError(f"{path}: expected 'a b product' lines after '{_MARKER}'") from None
        width = (len(triples).bit_length() - 1) // 2
        if len(triples) != 1 << (2 * width) or width < 1:
            raise DataError(f"{path}: {len(triples)} products is not a square table")
        mask = (1 << width) - 1
        table = np.zeros((1 << width, 1 << width), dtype=np.int64)
        seen = np.zeros(table.shape, dtype=bool)
        ia, ib = triples[:, 0] & mask, triples[:, 1] & mask  # signed values to their codes
        table[ia, ib] = triples[:, 2]
        seen[ia, ib] = True
        if not seen.all():
            raise DataError(f"{path}: operand pairs are missing or repeated")
        return table
