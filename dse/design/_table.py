"""A table-only design: a product table with hardware figures measured elsewhere.

Library spaces (the ALWANN setting: M. Mrazek et al., "ALWANN: Automatic layer-wise
approximation of deep neural network accelerators without retraining", ICCAD 2019)
may list a multiplier by its LUT alone, with its figures in a JSON file as
``dse eval --format json`` writes it. It has no gates to simulate: its report is
those stored figures, and its error metrics are measured on the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dse.errors import ConfigError
from dse.eval import ErrorMetrics, HardwareReport, error_metrics, exact_table

if TYPE_CHECKING:
    from dse.eval import CellLibrary, OperandDistribution

__all__ = ["TableDesign", "TableReport"]

#: the figures a table's stored metrics must give
_REQUIRED = ("power_uw", "area_um2", "delay_ns", "gates")


@dataclass(frozen=True, eq=False)
class TableReport(HardwareReport):
    """The report of a :class:`TableDesign`: its stored figures, the energy per
    operation as stored when the file gives it (it was rounded on its own)."""

    stored_energy_fj: float | None = None

    @property
    def energy_per_op_fj(self) -> float:
        if self.stored_energy_fj is not None:
            return self.stored_energy_fj
        return self.power_uw * self.clock_period_ns


@dataclass(eq=False)
class TableDesign:
    """A product table with stored hardware figures (``figures``: the metrics JSON of
    ``dse eval --format json``, or ``None`` when none was given)."""

    name: str
    key: str
    signed: bool
    width_a: int
    width_b: int
    table: np.ndarray = field(repr=False)
    figures: Mapping[str, Any] | None = None

    @property
    def structural_hash(self) -> str:
        return self.key

    def netlist(self) -> None:
        return None

    def lut(self) -> np.ndarray:
        return self.table

    def report(
        self,
        *,
        distribution: OperandDistribution | None = None,
        trace_vectors: int = 8192,
        seed: int = 0,
        clock_period_ns: float = 1.0,
        library: CellLibrary | None = None,
        keep_lut: bool = True,
    ) -> HardwareReport:
        """The stored figures; the evaluation settings do not apply (they were fixed
        when the figures were measured). Numbers in the file win over the metrics
        measured on the table; ``dynamic_uw`` defaults to ``power_uw``, ``leakage_uw``
        to 0, the clock period to 1 ns."""
        if self.figures is None:
            raise ConfigError(
                f"library entry {self.name!r} is a LUT without metrics; give "
                f"'metrics: FILE.json' (from dse eval --format json) for its hardware figures"
            )
        lut = np.asarray(self.table)
        em = error_metrics(
            lut,
            exact_table(self.width_a, self.width_b, self.signed),
            width_a=self.width_a,
            width_b=self.width_b,
            signed=self.signed,
        )
        stored = {
            k: float(v)
            for k, v in self.figures.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        for k in _REQUIRED:
            if k not in stored:
                raise ConfigError(f"library entry {self.name!r}: its metrics JSON lacks {k!r}")
        metric_names = ErrorMetrics.__dataclass_fields__
        metrics = dataclasses.replace(em, **{k: v for k, v in stored.items() if k in metric_names})
        power = stored["power_uw"]
        return TableReport(
            width_a=self.width_a,
            width_b=self.width_b,
            signed=self.signed,
            gates=stored["gates"],  # type: ignore[arg-type]  # as stored (a count)
            area_um2=stored["area_um2"],
            delay_ns=stored["delay_ns"],
            power_uw=power,
            dynamic_uw=stored.get("dynamic_uw", power),
            leakage_uw=stored.get("leakage_uw", 0.0),
            metrics=metrics,
            structural_hash=self.key,
            exhaustive=True,
            clock_period_ns=stored.get("clock_period_ns", 1.0),
            lut=lut if keep_lut else None,
            stored_energy_fj=stored.get("energy_per_op_fj"),
        )
