"""AxMultiplier: an approximate multiplier as a product table plus gradient tables.

Operand order (team-wide contract, also used by every layer here): the table is indexed
``lut[a, b]`` where **a is the activation operand** (rows, ``width_a`` bits) and **b is the
weight operand** (columns, ``width_b`` bits). Each index is the operand's raw bit pattern
read as an unsigned number; the entry is the product's value (two's complement value when
the multiplier is signed). For the approximate batched matmul ``x @ y``, ``x`` plays the
activation role and ``y`` the weight role.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import ConfigError, DataError
from dse.nn._gradients import gradient
from dse.nn._luts import MAX_WIDTH, code_values, exact_lut

__all__ = ["AxMultiplier", "load_multiplier"]


def _width_of(size: int, where: str, axis: str) -> int:
    width = int(size).bit_length() - 1
    if size < 2 or 2**width != size or width > MAX_WIDTH:
        raise DataError(
            f"{where}: LUT {axis} size {size} is not 2**n for n in 1..{MAX_WIDTH}; "
            f"expected shape (2**width_a, 2**width_b), e.g. (256, 256) for 8x8"
        )
    return width


@dataclass(eq=False)
class AxMultiplier:
    """A ``width_a × width_b`` multiplier given by its product table.

    ``lut[a_code, b_code]``: ``a`` = activation operand, ``b`` = weight operand, each code
    the raw bit pattern as an unsigned index (see the module docstring). Build one with
    :meth:`exact`, :meth:`from_lut`, :meth:`from_npy`, :meth:`from_report` or
    :meth:`from_design` (or :func:`load_multiplier`).
    """

    lut: np.ndarray
    signed: bool = False
    name: str = "custom"
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.lut = self._validated(self.lut, self.signed, where=f"multiplier {self.name!r}")
        self.lut.setflags(write=False)

    @staticmethod
    def _validated(lut: Any, signed: bool, where: str) -> np.ndarray:
        arr = np.asarray(lut)
        if arr.ndim != 2:
            raise DataError(f"{where}: LUT must be 2-D [a, b], got shape {arr.shape}")
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise DataError(
                f"{where}: LUT dtype must be an integer type (products are integers), "
                f"got {arr.dtype}"
            )
        _width_of(arr.shape[0], where, "row (activation operand a)")
        _width_of(arr.shape[1], where, "column (weight operand b)")
        if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise DataError(f"{where}: LUT values exceed int64")
        arr = arr.astype(np.int64, copy=True)
        if not signed and arr.size and arr.min() < 0:
            raise DataError(
                f"{where}: LUT has negative products ({arr.min()}) but the multiplier is "
                f"unsigned; pass signed=True (CLI: --signed) for a two's complement table"
            )
        return arr

    # ---------------------------------------------------------------- constructors
    @classmethod
    def exact(
        cls, width_a: int = 8, width_b: int | None = None, *, signed: bool = False
    ) -> AxMultiplier:
        """The accurate ``width_a × width_b`` multiplier."""
        width_b = width_a if width_b is None else width_b
        sign = "s" if signed else "u"
        return cls(
            exact_lut(width_a, width_b, signed=signed), signed, f"exact{width_a}x{width_b}{sign}"
        )

    @classmethod
    def from_lut(cls, lut: Any, *, signed: bool = False, name: str = "custom") -> AxMultiplier:
        """Wrap an in-memory table (validated: 2-D, integer, power-of-two sides)."""
        return cls(lut, signed, name)

    @classmethod
    def from_npy(cls, path: str | os.PathLike[str], *, signed: bool = False) -> AxMultiplier:
        """Load a ``.npy`` table; widths are inferred from its shape (2**n × 2**m)."""
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: LUT file does not exist")
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{p}: not a readable .npy array ({exc})") from None
        return cls(cls._validated(arr, signed, where=str(p)), signed, p.stem)

    @classmethod
    def from_report(cls, report: Any, *, name: str | None = None) -> AxMultiplier:
        """From a ``dse.eval.HardwareReport`` (uses ``.lut`` and ``.signed``)."""
        for attr in ("lut", "signed"):
            if not hasattr(report, attr):
                raise ConfigError(f"report: expected a HardwareReport with .{attr}")
        mult = cls(
            report.lut, bool(report.signed), str(name or getattr(report, "name", None) or "report")
        )
        for attr, width in (("width_a", mult.width_a), ("width_b", mult.width_b)):
            declared = getattr(report, attr, width)
            if declared is not None and int(declared) != width:
                raise DataError(
                    f"report: {attr}={declared} disagrees with LUT shape {mult.lut.shape}"
                )
        return mult

    @classmethod
    def from_design(cls, design: Any, *, name: str | None = None) -> AxMultiplier:
        """From any design with a product table: an object with ``lut()`` (the table,
        ``lut[a, b]``), ``width_a``, ``width_b``, ``signed`` and ``name`` (the Design
        protocol of the hardware side; a generated graph or a read netlist becomes one there).
        """
        for attr in ("lut", "width_a", "width_b", "signed"):
            if not hasattr(design, attr):
                raise ConfigError(
                    f"design: expected an object with .lut(), .width_a, .width_b "
                    f"and .signed; {type(design).__name__} has no .{attr}"
                )
        if not callable(design.lut):
            raise ConfigError(
                f"design: .lut of {type(design).__name__} must be a method "
                f"returning the product table"
            )
        label = str(name or getattr(design, "name", None) or "design")
        mult = cls(design.lut(), bool(design.signed), label)
        for attr, width in (("width_a", mult.width_a), ("width_b", mult.width_b)):
            declared = int(getattr(design, attr))
            if declared != width:
                raise DataError(
                    f"design {label!r}: {attr}={declared} disagrees with LUT shape {mult.lut.shape}"
                )
        return mult

    # ---------------------------------------------------------------- properties
    @property
    def width_a(self) -> int:
        """Bits of the activation operand ``a`` (table rows)."""
        return int(self.lut.shape[0]).bit_length() - 1

    @property
    def width_b(self) -> int:
        """Bits of the weight operand ``b`` (table columns)."""
        return int(self.lut.shape[1]).bit_length() - 1

    def values_a(self) -> np.ndarray:
        """Value of each activation code (two's complement if signed)."""
        return code_values(self.width_a, self.signed)

    def values_b(self) -> np.ndarray:
        """Value of each weight code."""
        return code_values(self.width_b, self.signed)

    def error_table(self) -> np.ndarray:
        """``lut - a·b`` in code order (int64)."""
        return self.lut - np.outer(self.values_a(), self.values_b())

    def is_exact(self) -> bool:
        """True when every entry equals the accurate product."""
        return not self.error_table().any()

    def stats(self) -> dict[str, float]:
        """Uniform-operand error statistics: mean error, mean |error|, max |error|, error rate."""
        err = self.error_table()
        return {
            "mean_error": float(err.mean()),
            "mean_abs_error": float(np.abs(err).mean()),
            "max_abs_error": float(np.abs(err).max()),
            "error_rate": float((err != 0).mean()),
        }

    # ---------------------------------------------------------------- gradient tables
    def grad_tables(
        self, estimator: str = "ste", *, half_window: int = 2
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(d f/d a, d f/d b)`` as float64 tables in code order, same shape as ``lut``.

        ``estimator`` names a registered :class:`~dse.nn.GradientEstimator` (``ste``,
        ``lut2d``, ``lut1d`` built in; see :mod:`dse.nn._gradients`); ``half_window`` is the
        smoothing half-width of those that smooth (``lut2d``). Cached per multiplier.
        """
        est = gradient(estimator)
        if not isinstance(half_window, (int, np.integer)) or half_window < 0:
            raise ConfigError(f"half_window must be an int >= 0, got {half_window!r}")
        key = ("grad", estimator, int(half_window) if est.uses_half_window else 0)
        if key in self._cache and self._cache[key][0] is est:
            return self._cache[key][1]
        va, vb = self.values_a().astype(np.float64), self.values_b().astype(np.float64)
        ga, gb = est.tables(self.lut.astype(np.float64), va, vb, half_window=int(half_window))
        ga, gb = (np.asarray(t, dtype=np.float64) for t in (ga, gb))
        for t in (ga, gb):
            if t.shape != self.lut.shape:
                raise ConfigError(
                    f"grad estimator {estimator!r} returned a table of shape "
                    f"{t.shape}, expected {self.lut.shape}"
                )
            t.setflags(write=False)
        self._cache[key] = (est, (ga, gb))
        return ga, gb

    def __repr__(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return f"AxMultiplier({self.name!r}, {self.width_a}x{self.width_b}, {kind})"


def load_multiplier(
    source: Any,
    *,
    signed: bool | None = None,
) -> AxMultiplier:
    """Accept an AxMultiplier, a LUT array, a ``.npy`` path or a design (see :meth:`from_design`).

    ``signed`` applies to arrays and ``.npy`` files (default unsigned); a design carries its
    own signedness. Netlist files and generator specs are read into a design by the hardware
    side first.
    """
    if isinstance(source, AxMultiplier):
        return source
    if isinstance(source, np.ndarray):
        return AxMultiplier.from_lut(source, signed=bool(signed))
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if text.endswith(".npy"):
            return AxMultiplier.from_npy(text, signed=bool(signed))
        raise ConfigError(
            f"multiplier {text!r}: expected a .npy LUT; read a netlist or a generator spec into "
            f"a design first and pass the design"
        )
    return AxMultiplier.from_design(source)
