"""Pareto fronts and hypervolume of a study (Optuna's front, pymoo's hypervolume).

The front is Optuna's ``study.best_trials``: non-dominated among the *feasible*
COMPLETE trials of every back end. Hypervolume is pymoo's exact indicator
(``pymoo.indicators.hv.HV``) on normalised minimisation objectives: each objective
``m`` (negated when maximised) is divided by a fixed scale ``s``, and the reference
point is ``r / s``. Defaults for ``r`` (override with ``hypervolume.reference`` in the
study file): the exact design's own power, area, delay, energy and gate count; 1.0
for ``rel_power``, ``er`` and ``wcre``; 0.05 for ``nmed``; 0.5 for ``mred``; 10 points
for ``accuracy_drop``; 0 % for ``accuracy`` (scale 100).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["hypervolume", "pareto_trials", "reference_point"]


def pareto_trials(study: Any) -> list[Any]:
    """The feasible non-dominated COMPLETE trials, sorted by the first objective."""
    import warnings

    from dse.search._optuna_store import pareto_front

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best = pareto_front(study)
    return sorted(best, key=lambda t: (tuple(t.values), t.number))


def reference_point(
    objectives: Sequence[Any],
    exact: Mapping[str, float],
    given: Mapping[str, float],
    width_p: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """``(reference, scale)`` in minimisation space, one entry per objective."""
    ref, scale = [], []
    full = float(2**width_p)
    defaults = {
        "rel_power": 1.0,
        "er": 1.0,
        "wcre": 1.0,
        "nmed": 0.05,
        "mred": 0.5,
        "accuracy_drop": 10.0,
        "accuracy": 0.0,
        "med": 0.05 * full,
        "abs_bias": 0.05 * full,
        "wce": 0.25 * full,
        "mse": (0.05 * full) ** 2,
        "error_var": (0.05 * full) ** 2,
    }
    for o in objectives:
        name = o.name
        cost = name in ("power_uw", "area_um2", "delay_ns", "energy_per_op_fj", "gates")
        r = given.get(name, exact.get(name) if cost else defaults.get(name))
        if r is None:
            r = 1.0
        r = float(r)
        s = abs(r) if r != 0 else 100.0
        if o.direction == "maximize":
            r = -r
        ref.append(r / s)
        scale.append(s)
    return np.asarray(ref), np.asarray(scale)


def hypervolume(
    values: Sequence[Sequence[float]], objectives: Sequence[Any], ref: np.ndarray, scale: np.ndarray
) -> float:
    """Hypervolume of ``values`` (objective values as stored) w.r.t. the normalised reference."""
    from pymoo.indicators.hv import HV

    if len(values) == 0:
        return 0.0
    sign = np.asarray([1.0 if o.direction == "minimize" else -1.0 for o in objectives])
    pts = np.asarray(values, float) * sign / scale
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(HV(ref_point=ref)(pts))
