"""The product table as a NumPy ``.npy`` array (what TorchApprox and ``dse.nn`` load)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.errors import ConfigError
from dse.eval import MAX_EXHAUSTIVE_BITS
from dse.export._base import ExportableDesign, ExportFormat

__all__ = ["NpyFormat"]


class NpyFormat(ExportFormat):
    name = "npy"
    suffix = ".npy"
    description = "product table [a, b] as a NumPy array"

    def check(self, design: ExportableDesign) -> None:
        if design.width_a + design.width_b > MAX_EXHAUSTIVE_BITS:
            raise ConfigError(
                f"a {design.width_a}x{design.width_b} table is too large to export as .npy"
            )

    def write(self, design: ExportableDesign, path: Path) -> None:
        with path.open("wb") as fh:  # the name as given (np.save(PATH) appends .npy)
            np.save(fh, np.asarray(design.lut()))

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        with path.open("rb") as fh:
            return np.asarray(np.load(fh))
