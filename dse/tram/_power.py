"""TRAM's power term: per-column costs, fixed-ratio (published) or calibrated (dse).

Published (Meng et al., TRAM, DAC 2026): the normalised power of a layer is
``(P_exact − Σ_c θ_c P_c) / P_exact`` where ``P_c`` counts column c's AND gates, half and
full adders of the exact array multiplier with costs in the ratio ``1 : 1.822 : 4.470``.

Calibrated (issue #5, 2a): the costs are fitted to dse's gate-level switching-activity power
model (NanGate 45 nm, :func:`dse.design.evaluate`) *of the designs phase 2 actually produces*,
under the network's operand histograms: sample column-parameter vectors θ (truncation-like
profiles and random ones), map each with :func:`~dse.tram.map_theta`, evaluate the mapped
netlist's gate-level power ``P(θ)``, and fit ``P_exact − P(θ) ≈ Σ_c θ_c P_c`` by
non-negative least squares. The fit's residual and the analytic-vs-gate-level gap of the
final designs are reported (``CostModel.fit_rmse``; ``TramDesign.power_gap``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.arith import MultiplierGraph, cell_type, generate
from dse.errors import ConfigError

__all__ = ["PUBLISHED_RATIOS", "CostModel", "calibrated_costs", "ratio_costs"]

#: AND : half adder : full adder cost ratio of the published power term.
PUBLISHED_RATIOS: tuple[float, float, float] = (1.0, 1.822, 4.470)


@dataclass
class CostModel:
    """Per-column costs ``P_c`` (column 0 first) and the exact multiplier's ``P_exact``.

    ``normalised`` = ``P_c / P_exact``; the analytic power fraction of θ is
    ``1 − Σ_c θ_c · normalised[c]``. ``kind`` is ``"ratio"`` or ``"calibrated"``; a
    calibrated model is in µW, the ratio model in AND-gate units.
    """

    costs: np.ndarray
    exact: float
    kind: str
    width_a: int
    width_b: int
    fit_rmse: float = 0.0  # calibrated: RMS of the fit's residual, fraction of P_exact
    samples: int = 0
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def normalised(self) -> np.ndarray:
        """``P_c / P_exact``."""
        return self.costs / self.exact

    def power_fraction(self, theta: Any) -> float:
        """Analytic remaining power ``(P_exact − Σ θ_c P_c) / P_exact``."""
        th = np.asarray(theta, dtype=np.float64).ravel()
        return float(1.0 - th @ self.normalised)


def _count(graph: MultiplierGraph) -> np.ndarray:
    p = graph.width_a + graph.width_b - 1
    counts = np.zeros((p, 3))
    for node in graph.nodes.values():
        if node.column is None or node.role in ("input", "output", "const"):
            continue
        col = min(node.column, p - 1)
        if node.role == "pp":
            counts[col, 0] += 1
        elif node.kind == "ha" or cell_type(node.kind).family == "ha":
            counts[col, 1] += 1
        elif node.kind == "fa" or cell_type(node.kind).family == "fa":
            counts[col, 2] += 1
    return counts


def ratio_costs(
    width_a: int = 8,
    width_b: int | None = None,
    *,
    ratios: tuple[float, float, float] = PUBLISHED_RATIOS,
    base: str = "array",
) -> CostModel:
    """The published cost model: column c's AND, HA and FA counts of the exact ``base``
    multiplier weighted ``1 : 1.822 : 4.470``."""
    wb = width_a if width_b is None else width_b
    counts = _count(generate(base, width_a, wb))
    costs = counts @ np.asarray(ratios, dtype=np.float64)
    return CostModel(
        costs=costs,
        exact=float(costs.sum()),
        kind="ratio",
        width_a=width_a,
        width_b=wb,
        info={"ratios": list(ratios), "counts": counts.tolist()},
    )


def _sample_thetas(p: int, n: int, rng: np.random.Generator) -> np.ndarray:
    rows = [np.zeros(p), np.ones(p)]  # exact, and everything removed (anchors the sum)
    while len(rows) < n:
        kind = len(rows) % 3
        if kind == 0:  # truncation-like: ones, a fractional column, zeros
            cut = rng.uniform(0, p * 0.75)
            th = np.clip(cut - np.arange(p), 0, 1)
        elif kind == 1:  # soft ramp with random slope
            cut, slope = rng.uniform(0, p * 0.75), rng.uniform(0.3, 2.0)
            th = np.clip((cut - np.arange(p)) * slope, 0, 1)
        else:  # random, decaying with the column
            th = rng.uniform(0, 1, p) * (np.arange(p) < rng.integers(2, p))
        rows.append(th)
    return np.asarray(rows)


def calibrated_costs(
    width_a: int = 8,
    width_b: int | None = None,
    *,
    hist_a: Any = None,
    hist_b: Any = None,
    samples: int = 24,
    moves: str = "published",
    bases: tuple[str, ...] = ("array",),
    seed: int = 0,
    trace_vectors: int = 4096,
    ridge: float = 0.1,
) -> CostModel:
    """Per-column costs fitted to the gate-level power of phase-2-mapped designs.

    ``hist_a``/``hist_b``: operand-magnitude histograms (length ``2**width``), e.g. a
    layer's or the whole network's; uniform when ``None``. They drive both the switching
    activity of the power model (phase 2's MSE weighting is the caller's choice). ``samples`` θ vectors are mapped and evaluated; ``ridge``
    (relative) pulls the fit toward the scaled published AND/HA/FA profile.
    """
    from scipy.optimize import nnls

    from dse.design import evaluate
    from dse.eval import OperandDistribution
    from dse.tram._mapping import map_theta

    wb = width_a if width_b is None else width_b
    if not isinstance(samples, int) or samples < 4:
        raise ConfigError(f"samples must be an int >= 4, got {samples!r}")
    t0 = time.perf_counter()
    dist = None
    if hist_a is not None or hist_b is not None:
        ha = np.ones(1 << width_a) if hist_a is None else np.asarray(hist_a, np.float64)
        hb = np.ones(1 << wb) if hist_b is None else np.asarray(hist_b, np.float64)
        dist = OperandDistribution(ha + 1e-9, hb + 1e-9)
    p = width_a + wb - 1
    thetas = _sample_thetas(p, samples, np.random.default_rng(seed))
    powers = np.empty(samples)
    for k, th in enumerate(thetas):
        graph = map_theta(th, width_a, wb, moves=moves, bases=bases).graph
        powers[k] = evaluate(graph, distribution=dist, trace_vectors=trace_vectors).power_uw
    exact = float(powers[0])
    delta = exact - powers
    # Tikhonov pull toward the (least-squares scaled) published profile keeps columns the
    # samples barely excite from collapsing to 0 or absorbing other columns' savings.
    prior = ratio_costs(width_a, wb, base=bases[0]).normalised
    design = thetas @ prior
    scale = float(design @ delta / max(design @ design, 1e-12))
    alpha = ridge * float(np.mean(np.sum(thetas**2, axis=0)))
    a_aug = np.vstack([thetas, np.sqrt(alpha) * np.eye(p)])
    b_aug = np.concatenate([delta, np.sqrt(alpha) * scale * prior])
    costs, _ = nnls(a_aug, b_aug)
    resid = thetas @ costs - delta
    return CostModel(
        costs=costs,
        exact=exact,
        kind="calibrated",
        width_a=width_a,
        width_b=wb,
        fit_rmse=float(np.sqrt(np.mean(resid**2)) / exact),
        samples=samples,
        seconds=time.perf_counter() - t0,
        info={"thetas": thetas.tolist(), "power_uw": powers.tolist()},
    )
