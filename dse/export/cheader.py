"""A 256x256 C header ``lut[a][b]``, as AdaPT and TransAxx compile into their kernels.

AdaPT (dimdano/adapt, ``tools/LUT_convert.ipynb``, ``cpu-kernels/axx_mults/*.h``)
includes a header that defines ``const int16_t lut [256][256]`` and indexes it with
the operands' 8-bit codes: its kernels cast the int8 operands to ``uint8_t`` (so row
128 is a = -128), which is the order of dse's tables. Products that do not fit int16
(an unsigned 8x8 multiplier) are written as ``int32_t``. Danopoulos, Zervakis,
Siozios, Soudris and Henkel, "AdaPT: Fast Emulation of Approximate DNN Accelerators
in PyTorch", IEEE TCAD 2023; TransAxx, the same group's GPU version, reads the layout.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dse.errors import ConfigError, DataError
from dse.export._base import ExportableDesign, ExportFormat

__all__ = ["CHeaderFormat"]

_ARRAY = re.compile(r"\blut\s*\[\s*(\d+)\s*\]\s*\[\s*(\d+)\s*\]\s*=\s*\{(.*)\}\s*;", re.S)
_INT16 = (-(1 << 15), (1 << 15) - 1)


class CHeaderFormat(ExportFormat):
    name = "cheader"
    suffix = ".h"
    description = "AdaPT/TransAxx C header, lut[256][256] by 8-bit operand codes"

    def check(self, design: ExportableDesign) -> None:
        if (design.width_a, design.width_b) != (8, 8):
            raise ConfigError(
                f"{design.name}: an AdaPT/TransAxx header is a 256x256 table of an 8x8 "
                f"multiplier; this design is {design.width_a}x{design.width_b}"
            )

    def write(self, design: ExportableDesign, path: Path) -> None:
        table = np.asarray(design.lut(), dtype=np.int64)
        fits = _INT16[0] <= table.min() and table.max() <= _INT16[1]
        ctype = "int16_t" if fits else "int32_t"
        kind = "signed" if design.signed else "unsigned"
        rows = ",\n".join("{" + ", ".join(map(str, row)) + "}" for row in table.tolist())
        path.write_text(
            f"/* {design.name}: 8x8 {kind} multiplier, lut[a][b] indexed by the operands' "
            f"8-bit codes */\n#include <stdint.h>\n\n"
            f"const {ctype} lut [256][256] = {{{rows}}};\n"
        )

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        m = _ARRAY.search(path.read_text())
        if m is None:
            raise DataError(f"{path}: no 'lut [256][256] = {{...}};' array in this header")
        rows, cols = int(m.group(1)), int(m.group(2))
        values = np.array(re.findall(r"-?\d+", m.group(3)), dtype=np.int64)
        if values.size != rows * cols:
            raise DataError(
                f"{path}: lut [{rows}][{cols}] holds {values.size} values, not {rows * cols}"
            )
        return values.reshape(rows, cols)
