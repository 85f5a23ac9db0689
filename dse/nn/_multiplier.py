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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dse.errors import ConfigError, DataError
from dse.nn._luts import MAX_WIDTH, code_values, exact_lut

__all__ = ["GRAD_ESTIMATORS", "AxMultiplier", "GradEstimator", "load_multiplier"]

GradEstimator = Literal["ste", "lut2d", "lut1d"]
GRAD_ESTIMATORS: tuple[str, ...] = ("ste", "lut2d", "lut1d")


def _width_of(size: int, where: str, axis: str) -> int:
    width = int(size).bit_length() - 1
    if size < 2 or 2**width != size or width > MAX_WIDTH:
        raise DataError(
            f"{where}: LUT {axis} size {size} is not 2**n for n in 1..{MAX_WIDTH}; "
            f"expected shape (2**width_a, 2**width_b), e.g. (256, 256) for 8x8"
        )
    return width


def _smoothed_derivative(table: np.ndarray, values: np.ndarray, half_window: int) -> np.ndarray:
    """d(table)/d(operand) along axis 0 after a moving average of half-width ``half_window``.

    ``values`` are the operand values of the rows, already in increasing order. The window
    shrinks symmetrically near the ends (so an exactly linear table keeps its exact slope
    everywhere), and the ends use a one-sided difference.
    """
    n = table.shape[0]
    csum = np.concatenate([np.zeros((1, table.shape[1])), np.cumsum(table, axis=0)], axis=0)
    idx = np.arange(n)
    half = np.minimum(half_window, np.minimum(idx, n - 1 - idx))
    smooth = (csum[idx + half + 1] - csum[idx - half]) / (2 * half + 1)[:, None]
    deriv = np.empty_like(smooth)
    if n == 1:
        deriv[:] = 0.0
        return deriv
    deriv[1:-1] = (smooth[2:] - smooth[:-2]) / (values[2:] - values[:-2])[:, None]
    deriv[0] = (smooth[1] - smooth[0]) / (values[1] - values[0])
    deriv[-1] = (smooth[-1] - smooth[-2]) / (values[-1] - values[-2])
    return deriv


def _ls_slope(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Slope of the least-squares line through each column of ``table`` against ``values``."""
    centred = values - values.mean()
    return (centred[:, None] * (table - table.mean(axis=0, keepdims=True))).sum(axis=0) / (
        centred**2
    ).sum()


@dataclass(eq=False)
class AxMultiplier:
    """A ``width_a × width_b`` multiplier given by its product table.

    ``lut[a_code, b_code]``: ``a`` = activation operand, ``b`` = weight operand, each code
    the raw bit pattern as an unsigned index (see the module docstring). Build one with
    :meth:`exact`, :meth:`from_lut`, :meth:`from_npy`, :meth:`from_report`,
    :meth:`from_spec` or :meth:`from_netlist` (or :func:`load_multiplier`).
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
    def exact(cls, width_a: int = 8, width_b: int | None = None, *, signed: bool = False) -> AxMultiplier:
        """The accurate ``width_a × width_b`` multiplier."""
        width_b = width_a if width_b is None else width_b
        sign = "s" if signed else "u"
        return cls(exact_lut(width_a, width_b, signed=signed), signed, f"exact{width_a}x{width_b}{sign}")

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
        mult = cls(report.lut, bool(report.signed), str(name or getattr(report, "name", None) or "report"))
        for attr, width in (("width_a", mult.width_a), ("width_b", mult.width_b)):
            declared = getattr(report, attr, width)
            if declared is not None and int(declared) != width:
                raise DataError(f"report: {attr}={declared} disagrees with LUT shape {mult.lut.shape}")
        return mult

    @classmethod
    def from_spec(cls, spec: str) -> AxMultiplier:
        """Build with ``dse.arith.from_spec(spec)`` and evaluate with ``dse.eval.evaluate``."""
        try:
            from dse.arith import from_spec
            from dse.design import evaluate
        except ImportError as exc:
            raise ConfigError(
                f"multiplier spec {spec!r} needs dse.arith/dse.eval, which failed to import ({exc})"
            ) from None
        return cls.from_report(evaluate(from_spec(spec)), name=spec)

    @classmethod
    def from_netlist(
        cls,
        paths: Sequence[str | os.PathLike[str]],
        *,
        signed: bool = False,
        top: str | None = None,
        cells: Sequence[str] = (),
        liberty: str | os.PathLike[str] | None = None,
    ) -> AxMultiplier:
        """Read a gate-level netlist (Verilog or BLIF, ``dse.netlist.read_netlist``) and
        tabulate it with ``dse.eval.evaluate_netlist``."""
        for p in paths:
            if not Path(p).is_file():
                raise DataError(f"{p}: netlist file does not exist")
        try:
            from dse.eval import evaluate_netlist
            from dse.netlist import read_netlist
        except ImportError as exc:
            raise ConfigError(f"reading a netlist needs dse.netlist/dse.eval ({exc})") from None
        netlist = read_netlist([str(p) for p in paths], cells=list(cells), liberty=liberty, top=top)
        report = evaluate_netlist(netlist, signed=signed)
        return cls.from_report(report, name=Path(paths[0]).stem)

    @classmethod
    def from_verilog(
        cls,
        paths: Sequence[str | os.PathLike[str]],
        *,
        signed: bool = False,
        top: str | None = None,
        cells: Sequence[str] = (),
    ) -> AxMultiplier:
        """:meth:`from_netlist` (which reads Verilog and BLIF alike)."""
        return cls.from_netlist(paths, signed=signed, top=top, cells=cells)

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
    def grad_tables(self, estimator: str = "ste", *, half_window: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """``(d f/d a, d f/d b)`` as float64 tables in code order, same shape as ``lut``.

        * ``ste``: the accurate product's gradient, ``df/da = b``, ``df/db = a``.
        * ``lut2d`` (Meng, Burleson, Qian, De Micheli, DATE 2025): smooth the LUT along the
          differentiated operand with a moving average of half-width ``half_window``, in
          operand-value order, and take the central difference of the smoothed table (the
          window shrinks symmetrically at the ends; the end rows use one-sided differences).
        * ``lut1d`` (Meng, Burleson, De Micheli, arXiv 2509.10519): ``df/da`` at weight code
          b is the slope of the least-squares line through the column ``f(·, b)``; it
          depends on b only (and ``df/db`` on a only).
        """
        if estimator not in GRAD_ESTIMATORS:
            raise ConfigError(f"grad estimator must be one of {GRAD_ESTIMATORS}, got {estimator!r}")
        if not isinstance(half_window, (int, np.integer)) or half_window < 0:
            raise ConfigError(f"half_window must be an int >= 0, got {half_window!r}")
        key = ("grad", estimator, int(half_window) if estimator == "lut2d" else 0)
        if key in self._cache:
            return self._cache[key]
        va, vb = self.values_a().astype(np.float64), self.values_b().astype(np.float64)
        lut = self.lut.astype(np.float64)
        if estimator == "ste":
            ga = np.broadcast_to(vb[None, :], lut.shape).copy()
            gb = np.broadcast_to(va[:, None], lut.shape).copy()
        else:
            order_a, order_b = np.argsort(va, kind="stable"), np.argsort(vb, kind="stable")
            inv_a, inv_b = np.argsort(order_a), np.argsort(order_b)
            if estimator == "lut2d":
                ga = _smoothed_derivative(lut[order_a], va[order_a], int(half_window))[inv_a]
                gb = _smoothed_derivative(lut[:, order_b].T, vb[order_b], int(half_window))[inv_b].T
            else:
                slope_b = _ls_slope(lut, va)  # one slope per weight code b
                slope_a = _ls_slope(lut.T, vb)  # one slope per activation code a
                ga = np.broadcast_to(slope_b[None, :], lut.shape).copy()
                gb = np.broadcast_to(slope_a[:, None], lut.shape).copy()
        for t in (ga, gb):
            t.setflags(write=False)
        self._cache[key] = (ga, gb)
        return ga, gb

    def __repr__(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return f"AxMultiplier({self.name!r}, {self.width_a}x{self.width_b}, {kind})"


def load_multiplier(
    source: AxMultiplier | str | os.PathLike[str] | np.ndarray,
    *,
    signed: bool | None = None,
    top: str | None = None,
) -> AxMultiplier:
    """Accept an AxMultiplier, a LUT array, a ``.npy`` path, a netlist path (``.v``,
    ``.sv``, ``.blif``) or a spec.

    ``signed`` applies to arrays, ``.npy`` and netlist sources (default unsigned); a
    generator spec carries its own signedness.
    """
    if isinstance(source, AxMultiplier):
        return source
    if isinstance(source, np.ndarray):
        return AxMultiplier.from_lut(source, signed=bool(signed))
    text = os.fspath(source)
    if text.endswith(".npy"):
        return AxMultiplier.from_npy(text, signed=bool(signed))
    if text.endswith((".v", ".sv", ".blif")) or (":" not in text and Path(text).is_file()):
        # any other existing file: read_netlist tells the format or names those it reads
        return AxMultiplier.from_netlist([text], signed=bool(signed), top=top)
    if ":" not in text:
        raise ConfigError(
            f"multiplier {text!r}: expected a .npy LUT, a netlist (.v, .sv, .blif) or a "
            f"generator spec such as 'dadda:8'"
        )
    return AxMultiplier.from_spec(text)
