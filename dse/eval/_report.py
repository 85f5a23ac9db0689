"""The whole hardware evaluation of one multiplier netlist: :func:`evaluate_netlist`.

netlist → exhaustive product table (or a sampled one beyond 2**24 operand pairs) →
error metrics → switching activity from an operand trace → power, area and delay
over a cell library → :class:`HardwareReport`. (A design is lowered to its netlist
by :func:`dse.design.evaluate`.)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dse.errors import ConfigError
from dse.eval import _kernels
from dse.eval._metrics import (
    ErrorMetrics,
    error_metrics,
    exact_table,
    metrics_from_sums,
    operand_tables,
    operand_values,
)
from dse.eval._sim import (
    MAX_EXHAUSTIVE_BITS,
    exhaustive_input_words,
    pack_operands,
    read_outputs,
    simulate,
    toggle_statistics,
)
from dse.netlist import Netlist, operand_widths

if TYPE_CHECKING:
    from dse.eval._library import CellLibrary

__all__ = [
    "HardwareReport",
    "OperandDistribution",
    "evaluate_netlist",
    "operand_trace",
    "product_table",
]

#: Exhaustive simulation is done in chunks of this many 64-vector words (bounded memory).
_CHUNK_WORDS = 4096
#: Words per block of the fused simulate-and-read kernel: the net values of a block
#: (a few hundred nets x 64 words x 8 bytes) stay in the first-level caches.
_LUT_CHUNK_WORDS = 64
#: Operand pairs sampled for the error metrics when the input space is too large.
SAMPLED_PAIRS = 1 << 20


@dataclass(frozen=True)
class OperandDistribution:
    """Histograms of operand codes (raw bit patterns), e.g. a network's activations (a)
    and weights (b). Used to weight error metrics and to draw the power trace."""

    hist_a: np.ndarray
    hist_b: np.ndarray

    @classmethod
    def uniform(cls, width_a: int, width_b: int) -> OperandDistribution:
        return cls(np.ones(1 << width_a), np.ones(1 << width_b))

    def check(self, width_a: int, width_b: int) -> None:
        for name, h, w in (("hist_a", self.hist_a, width_a), ("hist_b", self.hist_b, width_b)):
            h = np.asarray(h)
            if h.shape != (1 << w,):
                raise ConfigError(f"{name} must have length 2**{w} = {1 << w}, got shape {h.shape}")
            if (h < 0).any() or h.sum() <= 0:
                raise ConfigError(f"{name} must be non-negative with a positive sum")


@dataclass(frozen=True, eq=False)
class HardwareReport:
    """Everything the hardware model says about one multiplier.

    Power figures are in µW at the library's voltage and the report's clock period
    (one multiplication per cycle), area in µm², delay in ns.
    """

    width_a: int
    width_b: int
    signed: bool
    gates: int
    area_um2: float
    delay_ns: float
    power_uw: float
    dynamic_uw: float
    leakage_uw: float
    metrics: ErrorMetrics
    structural_hash: str
    exhaustive: bool
    clock_period_ns: float
    cells: dict[str, int] = field(default_factory=dict)
    source: str = ""
    seconds: float = 0.0
    lut: np.ndarray | None = field(default=None, repr=False)

    def __getattr__(self, name: str) -> Any:
        # er, med, mred, ... read straight from the metrics.
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in ErrorMetrics.__dataclass_fields__:
            return getattr(metrics, name)
        raise AttributeError(name)

    @property
    def energy_per_op_fj(self) -> float:
        """Energy per multiplication in fJ (power × clock period)."""
        return self.power_uw * self.clock_period_ns

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the LUT)."""
        out: dict[str, Any] = {
            "width_a": self.width_a,
            "width_b": self.width_b,
            "signed": self.signed,
            "gates": self.gates,
            "area_um2": round(self.area_um2, 4),
            "delay_ns": round(self.delay_ns, 5),
            "power_uw": round(self.power_uw, 4),
            "dynamic_uw": round(self.dynamic_uw, 4),
            "leakage_uw": round(self.leakage_uw, 5),
            "energy_per_op_fj": round(self.energy_per_op_fj, 4),
            "clock_period_ns": self.clock_period_ns,
        }
        out.update({k: float(v) for k, v in self.metrics.to_dict().items()})
        out.update(
            {
                "exhaustive": self.exhaustive,
                "structural_hash": self.structural_hash,
                "cells": dict(self.cells),
                "source": self.source,
                "seconds": round(self.seconds, 6),
            }
        )
        return out


class _DeferredHash:
    """A design's structural hash, computed when first read.

    Most callers never read the report's hash (a search keys its cache by the design's
    hash, computed before evaluating), so the report asks for it only on demand.
    Pickled or copied, it is the hash string itself.
    """

    __slots__ = ("compute",)

    def __init__(self, compute: Callable[[], str]) -> None:
        self.compute = compute

    def __call__(self) -> str:
        return self.compute()

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return (str, (self(),))


class _HashField:
    """Data descriptor behind :attr:`HardwareReport.structural_hash` (installed after
    the dataclass is built, so the field keeps its plain ``str`` signature): stores
    the value, and resolves a :class:`_DeferredHash` on first read."""

    def __get__(self, obj: object, objtype: type | None = None) -> str:
        if obj is None:
            raise AttributeError("structural_hash")  # no class-level default
        d = obj.__dict__
        value = d["_structural_hash"]
        if isinstance(value, _DeferredHash):
            value = d["_structural_hash"] = value()
        return str(value)

    def __set__(self, obj: object, value: str | _DeferredHash) -> None:
        obj.__dict__["_structural_hash"] = value


setattr(HardwareReport, "structural_hash", _HashField())  # noqa: B010 - see _HashField


def product_table(netlist: Netlist, width_a: int, width_b: int, *, signed: bool) -> np.ndarray:
    """The exhaustive product table ``[a, b]`` of a netlist (up to 2**24 pairs)."""
    total = width_a + width_b
    if total > MAX_EXHAUSTIVE_BITS:
        raise ConfigError(
            f"a {width_a}x{width_b} table has 2**{total} entries; exhaustive tables go up to "
            f"2**{MAX_EXHAUSTIVE_BITS}"
        )
    _check_ports(netlist, width_a, width_b)
    words = exhaustive_input_words(width_a, width_b)
    n_vec = 1 << total
    nets = netlist.output_ports[0][1]
    if _kernels.HAVE_NUMBA and netlist.n_inputs == total and len(nets) <= 62:
        # simulation and read-out fused, a few words at a time (cache-resident)
        flat = _kernels.lut_kernel(
            netlist.ops,
            netlist.fanin,
            total,
            words,
            np.asarray(nets, dtype=np.int64),
            signed,
            n_vec,
            _LUT_CHUNK_WORDS,
        )
    elif words.shape[1] <= _CHUNK_WORDS:
        vals = simulate(netlist, words)
        flat = read_outputs(netlist, vals, n_vec, signed=signed)
    else:
        parts = []
        for start in range(0, words.shape[1], _CHUNK_WORDS):
            chunk = np.ascontiguousarray(words[:, start : start + _CHUNK_WORDS])
            vals = simulate(netlist, chunk)
            parts.append(read_outputs(netlist, vals, chunk.shape[1] * 64, signed=signed))
        flat = np.concatenate(parts)
    return flat.reshape(1 << width_a, 1 << width_b)


def _table_and_metrics(
    netlist: Netlist, width_a: int, width_b: int, signed: bool
) -> tuple[np.ndarray | None, ErrorMetrics | None]:
    """The exhaustive table and its unweighted metrics in one compiled pass (each
    block of the table is measured while it is in the cache), or ``(None, None)``
    where that pass does not apply: then :func:`product_table` and
    :func:`error_metrics` do it in two.

    The kernel's integer sums need ``|error| < 2**24``: true when the output is no
    wider than the two operands together (a multiplier's product port).
    """
    total = width_a + width_b
    nets = netlist.output_ports[0][1] if netlist.output_ports else ()
    if netlist.n_inputs != total or not 0 < len(nets) <= total:
        return None, None
    _check_ports(netlist, width_a, width_b)
    val_a, inv_a, nz_a = operand_tables(width_a, signed)
    val_b, inv_b, nz_b = operand_tables(width_b, signed)
    n_vec = 1 << total
    flat, ints, floats = _kernels.lut_metrics_kernel(
        netlist.ops,
        netlist.fanin,
        total,
        exhaustive_input_words(width_a, width_b),
        np.asarray(nets, dtype=np.int64),
        signed,
        n_vec,
        _LUT_CHUNK_WORDS,
        width_b,
        val_a,
        val_b,
        inv_a,
        inv_b,
    )
    metrics = metrics_from_sums(
        ints, floats, n_vec, nz_a * nz_b, width_a=width_a, width_b=width_b, signed=signed
    )
    return flat.reshape(1 << width_a, 1 << width_b), metrics


def _check_ports(netlist: Netlist, width_a: int, width_b: int) -> None:
    ports = netlist.input_ports
    if len(ports) < 2 or ports[0][1] != width_a or ports[1][1] != width_b:
        raise ConfigError(
            f"netlist {netlist.name!r} has inputs {list(ports)}; expected operands of "
            f"{width_a} and {width_b} bits as its first two ports"
        )
    if not netlist.output_ports:
        raise ConfigError(f"netlist {netlist.name!r} has no output port")


def operand_trace(
    width_a: int,
    width_b: int,
    n_vectors: int,
    *,
    seed: int = 0,
    distribution: OperandDistribution | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random operand codes, one pair per clock cycle: uniform, or drawn from histograms."""
    rng = np.random.default_rng(seed)
    if distribution is None:
        a = rng.integers(0, 1 << width_a, n_vectors, dtype=np.int64)
        b = rng.integers(0, 1 << width_b, n_vectors, dtype=np.int64)
    else:
        distribution.check(width_a, width_b)
        pa = np.asarray(distribution.hist_a, dtype=np.float64)
        pb = np.asarray(distribution.hist_b, dtype=np.float64)
        a = rng.choice(1 << width_a, n_vectors, p=pa / pa.sum())
        b = rng.choice(1 << width_b, n_vectors, p=pb / pb.sum())
    return a, b


_TRACE_CACHE: dict[tuple[object, ...], np.ndarray] = {}


def _trace_words(
    width_a: int, width_b: int, n: int, seed: int, distribution: OperandDistribution | None
) -> np.ndarray:
    """Packed operand trace, cached: every candidate of a search sees the same trace."""
    if distribution is None:
        key: tuple[object, ...] = (width_a, width_b, n, seed)
    else:
        key = (
            width_a,
            width_b,
            n,
            seed,
            hashlib.blake2b(np.asarray(distribution.hist_a, np.float64).tobytes()).hexdigest(),
            hashlib.blake2b(np.asarray(distribution.hist_b, np.float64).tobytes()).hexdigest(),
        )
    words = _TRACE_CACHE.get(key)
    if words is None:
        a, b = operand_trace(width_a, width_b, n, seed=seed, distribution=distribution)
        words = pack_operands(a, b, width_a, width_b)
        words.setflags(write=False)
        if len(_TRACE_CACHE) > 64:
            _TRACE_CACHE.clear()
        _TRACE_CACHE[key] = words
    return words


def _netlist_hash(netlist: Netlist) -> str:
    """Hash of an imported netlist's gate arrays and ports (it has no graph)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((netlist.input_ports, netlist.output_ports)).encode())
    h.update(np.ascontiguousarray(netlist.ops).tobytes())
    h.update(np.ascontiguousarray(netlist.fanin).tobytes())
    return h.hexdigest()


def evaluate_netlist(
    netlist: Netlist,
    *,
    signed: bool,
    library: CellLibrary | None = None,
    distribution: OperandDistribution | None = None,
    trace_vectors: int = 8192,
    seed: int = 0,
    clock_period_ns: float = 1.0,
    structural_hash: str | Callable[[], str] | None = None,
    source: str = "",
    keep_lut: bool = True,
) -> HardwareReport:
    """Evaluate a gate-level multiplier: its first two input ports are the operands.

    Args:
        signed: operands and product are two's complement.
        library: cell library for power/area/delay (default NanGate 45 nm).
        distribution: operand histograms for weighting the metrics and drawing the
            power trace (default uniform).
        trace_vectors: length of the operand trace for switching activity
            (a multiple of 64). The same seed gives every candidate the same trace.
        clock_period_ns: one multiplication per clock period.
        structural_hash: the design's hash, or a function computing it when the
            report's hash is first read (default: a hash of the gate arrays).
    """
    known = _DeferredHash(structural_hash) if callable(structural_hash) else structural_hash
    return _evaluate_netlist(
        netlist,
        signed=signed,
        library=library,
        distribution=distribution,
        trace_vectors=trace_vectors,
        seed=seed,
        clock_period_ns=clock_period_ns,
        structural_hash=known,
        source=source,
        keep_lut=keep_lut,
    )


def _evaluate_netlist(
    netlist: Netlist,
    *,
    signed: bool,
    library: CellLibrary | None,
    distribution: OperandDistribution | None,
    trace_vectors: int,
    seed: int,
    clock_period_ns: float,
    structural_hash: str | _DeferredHash | None,
    source: str,
    keep_lut: bool,
) -> HardwareReport:
    from dse.eval._library import CellLibrary
    from dse.eval._power import estimate_power

    t0 = time.perf_counter()
    if trace_vectors <= 0 or trace_vectors % 64:
        raise ConfigError(f"trace_vectors must be a positive multiple of 64, got {trace_vectors}")
    if clock_period_ns <= 0:
        raise ConfigError(f"clock_period_ns must be positive, got {clock_period_ns}")
    width_a, width_b = operand_widths(netlist)  # exactly two input ports, else a hint
    total = width_a + width_b
    weights = None
    if distribution is not None:
        distribution.check(width_a, width_b)
    lut: np.ndarray | None = None
    metrics: ErrorMetrics | None = None
    if total <= MAX_EXHAUSTIVE_BITS and distribution is None and _kernels.HAVE_NUMBA:
        lut, metrics = _table_and_metrics(netlist, width_a, width_b, signed)
    if metrics is None:
        if total <= MAX_EXHAUSTIVE_BITS:
            lut = product_table(netlist, width_a, width_b, signed=signed)
            exact = exact_table(width_a, width_b, signed)
            approx = lut
            if distribution is not None:
                weights = np.multiply.outer(
                    np.asarray(distribution.hist_a, np.float64),
                    np.asarray(distribution.hist_b, np.float64),
                )
        else:
            a, b = operand_trace(
                width_a, width_b, SAMPLED_PAIRS, seed=seed + 1, distribution=distribution
            )
            vals = simulate(netlist, pack_operands(a, b, width_a, width_b))
            approx = read_outputs(netlist, vals, a.shape[0], signed=signed)
            exact = operand_values(width_a, signed)[a] * operand_values(width_b, signed)[b]
        metrics = error_metrics(
            approx, exact, width_a=width_a, width_b=width_b, signed=signed, weights=weights
        )
    trace_vals = simulate(
        netlist, _trace_words(width_a, width_b, trace_vectors, seed, distribution)
    )
    toggle_rate, one_prob = toggle_statistics(trace_vals, trace_vectors)
    lib = library if library is not None else CellLibrary.default()
    power = estimate_power(netlist, toggle_rate, one_prob, lib, clock_period_ns=clock_period_ns)
    return HardwareReport(
        width_a=width_a,
        width_b=width_b,
        signed=signed,
        gates=netlist.gate_count,
        area_um2=power.area_um2,
        delay_ns=power.delay_ns,
        power_uw=power.power_uw,
        dynamic_uw=power.dynamic_uw,
        leakage_uw=power.leakage_uw,
        metrics=metrics,
        structural_hash=structural_hash or _netlist_hash(netlist),  # type: ignore[arg-type]
        exhaustive=lut is not None,
        clock_period_ns=clock_period_ns,
        cells=dict(power.cells),
        source=source,
        seconds=time.perf_counter() - t0,
        lut=lut if keep_lut else None,
    )
