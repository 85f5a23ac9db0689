"""Error metrics of an approximate multiplier against the exact product.

Definitions follow the usual ones of the approximate-arithmetic literature (e.g.
J. Liang, J. Han, F. Lombardi, "New metrics for the reliability of approximate and
probabilistic adders", IEEE TC 62(9), 2013; EvoApprox8b, V. Mrazek et al., DATE 2017),
with ``e = approximate - exact``:

* ``er``: error rate, P(e ≠ 0);
* ``med``: mean error distance, E|e|;
* ``mred``: mean relative error distance, E[|e| / |exact|] over pairs whose exact
  product is non-zero (a zero product has no relative error);
* ``nmed``: MED normalised by the largest exact product magnitude;
* ``wce`` / ``wcre``: worst-case error distance / relative error distance;
* ``bias``: mean error E[e]; ``error_var``: its variance; ``mse``: E[e²].

Every metric can be weighted by an operand distribution ``p(a) p(b)`` (e.g. a
network's histograms of activation and weight codes).

:func:`peer_metrics` gives the same table's figures in two peers' conventions (TRAM's
NMED/MRED, EvoApprox's MAE/WCE/EP/MRE/WCRE percentages), under their own names, for
comparing with a paper's table; dse's own figures above do not change.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from dse.errors import ConfigError
from dse.eval import _kernels

__all__ = [
    "ErrorMetrics",
    "PeerMetrics",
    "error_metrics",
    "error_metrics_reference",
    "exact_table",
    "operand_values",
    "peer_metrics",
]


@dataclass(frozen=True)
class ErrorMetrics:
    er: float
    med: float
    mred: float
    nmed: float
    wce: float
    wcre: float
    bias: float
    error_var: float
    mse: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def operand_values(width: int, signed: bool) -> np.ndarray:
    """The value of every raw code ``0 .. 2**width - 1`` (two's complement if signed)."""
    codes = np.arange(1 << width, dtype=np.int64)
    if signed:
        codes = np.where(codes >= 1 << (width - 1), codes - (1 << width), codes)
    return codes


@functools.lru_cache(maxsize=32)
def exact_table(width_a: int, width_b: int, signed: bool) -> np.ndarray:
    """The exact product table ``[a, b]`` by raw operand codes (cached, read-only)."""
    table = np.multiply.outer(operand_values(width_a, signed), operand_values(width_b, signed))
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=32)
def operand_tables(width: int, signed: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Per operand code: its value, ``1/|value|`` (0 for 0) and the count of non-zero
    values (cached, read-only): the fused table kernel builds the exact product and
    its inverse magnitude from these instead of streaming two whole tables."""
    vals = operand_values(width, signed)
    inv = np.zeros(vals.shape, dtype=np.float64)
    np.divide(1.0, np.abs(vals), out=inv, where=vals != 0)
    vals.setflags(write=False)
    inv.setflags(write=False)
    return vals, inv, int(np.count_nonzero(vals))


def _from_sums(
    n_err: float,
    s_abs: float,
    s_e: float,
    s_e2: float,
    m_abs: float,
    s_rel: float,
    n_nz: float,
    m_rel: float,
    n: int,
    max_product: int,
) -> ErrorMetrics:
    """The metrics from a kernel's sums over ``n`` pairs (both kernel paths)."""
    med, bias, mse = s_abs / n, s_e / n, s_e2 / n
    return ErrorMetrics(
        er=n_err / n,
        med=med,
        mred=s_rel / n_nz if n_nz else 0.0,
        nmed=med / max_product,
        wce=m_abs,
        wcre=m_rel,
        bias=bias,
        error_var=max(0.0, mse - bias * bias),
        mse=mse,
    )


def metrics_from_sums(
    ints: np.ndarray,
    floats: np.ndarray,
    n: int,
    n_nz: int,
    *,
    width_a: int,
    width_b: int,
    signed: bool,
) -> ErrorMetrics:
    """Metrics from the exact integer sums and the relative-error float sums of the
    fused table kernel (``dse.eval._kernels._lut_metrics``)."""
    n_err, s_abs, s_e, s2_hi, s2_lo, m_abs = (int(x) for x in ints)
    s_rel, m_rel = float(floats[0]), float(floats[1])
    # each term converts exactly (< 2**53); one rounding in the final addition
    s_e2 = float(s2_hi) * 4294967296.0 + float(s2_lo)
    return _from_sums(
        n_err,
        s_abs,
        s_e,
        s_e2,
        float(m_abs),
        s_rel,
        n_nz,
        m_rel,
        n,
        _max_product(width_a, width_b, signed),
    )


_INV_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _inverse_magnitude(exact: np.ndarray) -> np.ndarray:
    """1/|exact| (0 where exact is 0), cached for the (read-only) exact tables."""
    hit = _INV_CACHE.get(id(exact))
    if hit is not None and hit[0] is exact:
        return hit[1]
    inv = np.zeros(exact.shape, dtype=np.float64)
    np.divide(1.0, np.abs(exact), out=inv, where=exact != 0)
    if not exact.flags.writeable:
        _INV_CACHE[id(exact)] = (exact, inv)
    return inv


def _max_product(width_a: int, width_b: int, signed: bool) -> int:
    if signed:
        return (1 << (width_a - 1)) * (1 << (width_b - 1))
    return ((1 << width_a) - 1) * ((1 << width_b) - 1)


def error_metrics(
    approx: np.ndarray,
    exact: np.ndarray,
    *,
    width_a: int,
    width_b: int,
    signed: bool,
    weights: np.ndarray | None = None,
) -> ErrorMetrics:
    """Metrics of ``approx`` against ``exact`` (same shape: a table or sampled pairs).

    Args:
        weights: optional non-negative weights of the same shape (e.g. the outer product
            of operand histograms); normalised here.
    """
    approx = np.asarray(approx, dtype=np.int64)
    if not (isinstance(exact, np.ndarray) and exact.dtype == np.int64):
        exact = np.asarray(exact, dtype=np.int64)
    if approx.shape != exact.shape:
        raise ConfigError(f"approx shape {approx.shape} differs from exact shape {exact.shape}")
    if weights is None and _kernels.HAVE_NUMBA:
        flat_exact = exact.ravel()
        inv_abs = _inverse_magnitude(exact).ravel()
        n_err, s_abs, s_e, s_e2, m_abs, s_rel, n_nz, m_rel = (
            float(x) for x in _kernels.metrics_kernel(approx.ravel(), flat_exact, inv_abs)
        )
        return _from_sums(
            n_err,
            s_abs,
            s_e,
            s_e2,
            m_abs,
            s_rel,
            n_nz,
            m_rel,
            approx.size,
            _max_product(width_a, width_b, signed),
        )
    return error_metrics_reference(
        approx, exact, width_a=width_a, width_b=width_b, signed=signed, weights=weights
    )


def error_metrics_reference(
    approx: np.ndarray,
    exact: np.ndarray,
    *,
    width_a: int,
    width_b: int,
    signed: bool,
    weights: np.ndarray | None = None,
) -> ErrorMetrics:
    """:func:`error_metrics` in plain numpy (the reference every kernel is tested
    against)."""
    approx = np.asarray(approx, dtype=np.int64)
    exact = np.asarray(exact, dtype=np.int64)
    if approx.shape != exact.shape:
        raise ConfigError(f"approx shape {approx.shape} differs from exact shape {exact.shape}")
    err = (approx - exact).astype(np.float64)
    dist = np.abs(err)
    nz = exact != 0
    rel = np.zeros_like(dist)
    np.divide(dist, np.abs(exact), out=rel, where=nz)
    if weights is None:
        w = None
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != approx.shape:
            raise ConfigError(f"weights shape {w.shape} differs from table shape {approx.shape}")
        if (w < 0).any() or w.sum() <= 0:
            raise ConfigError("operand weights must be non-negative with a positive sum")
        w = w / w.sum()

    def mean(x: np.ndarray, mask: np.ndarray | None = None) -> float:
        if w is None:
            if mask is None:
                return float(x.mean())
            return float(x[mask].mean()) if mask.any() else 0.0
        if mask is None:
            return float((x * w).sum())
        wm = w * mask
        s = wm.sum()
        return float((x * wm).sum() / s) if s > 0 else 0.0

    support = None if w is None else w > 0
    med = mean(dist)
    bias = mean(err)
    mse = mean(err * err)
    wce = float(dist.max() if support is None else dist[support].max(initial=0.0))
    rel_support = nz if support is None else (nz & support)
    wcre = float(rel[rel_support].max(initial=0.0))
    return ErrorMetrics(
        er=mean((dist > 0).astype(np.float64)),
        med=med,
        mred=mean(rel, nz),
        nmed=med / _max_product(width_a, width_b, signed),
        wce=wce,
        wcre=wcre,
        bias=bias,
        error_var=max(0.0, mse - bias * bias),
        mse=mse,
    )


@dataclass(frozen=True)
class PeerMetrics:
    """One product table's error figures in two peers' conventions, named by peer.

    With ``e = approximate - exact`` over all ``2**(n+m)`` operand pairs (``n``, ``m``
    the operand widths; values two's complement for a signed table):

    * ``tram_nmed``: E|e| / 2**(n+m): TRAM's NMED (C. Meng et al., TRAM, DAC 2026; the
      AppMult-Aware-Retraining simulator, ``simulator/src/main.cc``, divides the MED by
      2**(2·bitwidth)). dse's ``nmed`` divides by the largest exact product instead.
    * ``tram_mred``: E[|e| / max(1, |exact|)] over *all* pairs: TRAM's MRED. A pair
      with exact product 0 counts its ``|e|`` in full. dse's ``mred`` leaves those
      pairs out.
    * ``evo_mae``, ``evo_mae_pct``: E|e| and E|e| / 2**(n+m) · 100 (EvoApprox8b:
      V. Mrazek et al., DATE 2017, and the EvoApproxLib tables' ``MAE``, ``MAE%``).
    * ``evo_wce``, ``evo_wce_pct``: max |e| and max |e| / 2**(n+m) · 100 (``WCE``,
      ``WCE%``).
    * ``evo_ep_pct``: P(e ≠ 0) · 100 (``EP%``).
    * ``evo_mre_pct``: E[|e| / |exact|] · 100 over the pairs whose exact product is
      non-zero, the others left out of sum and count (``MRE%``); equals 100 · dse's
      ``mred``.
    * ``evo_wcre_pct``: max |e| / |exact| · 100 over the same pairs (``WCRE%``); equals
      100 · dse's ``wcre``.
    * ``evo_mse``: E[e²] (``MSE``).

    The EvoApprox zero handling and the 2**(n+m) normalisation were checked against the
    figures EvoApproxLib prints in its C models' headers (8x8, 7x7, 8x4 and 8x2 unsigned,
    8x8 signed): a circuit whose product is wrong where the exact product is 0 (e.g.
    ``mul8u_2AC``) has the printed MRE%/WCRE% only with those pairs left out, not with
    max(1, |exact|).
    """

    tram_nmed: float
    tram_mred: float
    evo_mae: float
    evo_mae_pct: float
    evo_wce: float
    evo_wce_pct: float
    evo_ep_pct: float
    evo_mre_pct: float
    evo_wcre_pct: float
    evo_mse: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def peer_metrics(
    lut: np.ndarray,
    width_a: int,
    width_b: int,
    signed: bool,
    *,
    metrics: ErrorMetrics | None = None,
) -> PeerMetrics:
    """A whole product table's figures in TRAM's and EvoApprox's conventions (see
    :class:`PeerMetrics`), every pair weighted alike.

    Args:
        lut: the table ``[a, b]`` by raw operand codes, ``2**width_a`` × ``2**width_b``,
            holding product values (two's complement values if ``signed``), as
            ``dse eval --lut`` writes it.
        metrics: this same table's *unweighted* :class:`ErrorMetrics` (e.g. a
            :class:`~dse.eval.HardwareReport`'s, evaluated without an operand
            distribution), if at hand: then only the pairs with an exact product of 0
            are read again, instead of the whole table in numpy.
    """
    approx = np.asarray(lut)
    shape = (1 << width_a, 1 << width_b)
    if approx.shape != shape:
        raise ConfigError(
            f"a {width_a}x{width_b} product table is {shape[0]}x{shape[1]}, got shape "
            f"{approx.shape}"
        )
    val_a, inv_a, nz_a = operand_tables(width_a, signed)
    val_b, inv_b, nz_b = operand_tables(width_b, signed)
    n = shape[0] * shape[1]
    n_nz = nz_a * nz_b
    scale = float(n)  # 2**(n+m)
    # the exact product is 0 on row a = 0 and column b = 0 (code 0 is the value 0
    # either way): there |e| = |approx|, and |e| / max(1, 0) = |e|
    row, col = approx[0].astype(np.int64), approx[:, 0].astype(np.int64)
    at_zero = int(np.abs(row).sum() + np.abs(col).sum() - abs(int(row[0])))
    if metrics is not None:
        return PeerMetrics(
            tram_nmed=metrics.med / scale,
            tram_mred=(metrics.mred * n_nz + at_zero) / n,
            evo_mae=metrics.med,
            evo_mae_pct=100.0 * metrics.med / scale,
            evo_wce=metrics.wce,
            evo_wce_pct=100.0 * metrics.wce / scale,
            evo_ep_pct=100.0 * metrics.er,
            evo_mre_pct=100.0 * metrics.mred,
            evo_wcre_pct=100.0 * metrics.wcre,
            evo_mse=metrics.mse,
        )
    s_abs = n_err = 0  # exact integer sums
    wce = 0
    rel_sum = rel_max = s_e2 = 0.0
    # blocks of rows (about 2**18 pairs): no whole-table temporaries
    rows = max(1, (1 << 18) >> width_b)
    for r0 in range(0, shape[0], rows):
        exact = np.multiply.outer(val_a[r0 : r0 + rows], val_b)
        dist = np.abs(approx[r0 : r0 + rows].astype(np.int64) - exact)
        s_abs += int(dist.sum())
        n_err += int(np.count_nonzero(dist))
        wce = max(wce, int(dist.max()))
        # |e| / |exact| as |e| · (1/|a|) · (1/|b|): 0 where exact is 0
        rel = dist * np.multiply.outer(inv_a[r0 : r0 + rows], inv_b)
        rel_sum += float(rel.sum())
        rel_max = max(rel_max, float(rel.max()))
        d = dist.astype(np.float64).ravel()
        s_e2 += float(np.dot(d, d))
    med = s_abs / n
    return PeerMetrics(
        tram_nmed=med / scale,
        tram_mred=(rel_sum + at_zero) / n,
        evo_mae=med,
        evo_mae_pct=100.0 * med / scale,
        evo_wce=float(wce),
        evo_wce_pct=100.0 * wce / scale,
        evo_ep_pct=100.0 * n_err / n,
        evo_mre_pct=100.0 * rel_sum / n_nz if n_nz else 0.0,
        evo_wcre_pct=100.0 * rel_max,
        evo_mse=s_e2 / n,
    )
