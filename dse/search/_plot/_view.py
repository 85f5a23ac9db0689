"""What every renderer of a study figure draws: the trials as points (back end, feasible,
on the front), the exact design, labels with units, and the region-of-interest clip of
an accuracy axis (the rule is in :mod:`dse.search._plot`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dse.search._objectives import METRICS, Constraint, Objective

__all__ = [
    "AXIS_LABELS",
    "BACKEND_TAGS",
    "axis_label",
    "backend_label",
    "genome_summary",
]

#: Axis label (with unit) of every metric in :data:`dse.search.METRICS`. Hardware
#: figures of a grouped space are MAC-weighted means; error distances are in units of
#: the product's least significant bit.
AXIS_LABELS: dict[str, str] = {
    "power_uw": "power (µW)",
    "rel_power": "power relative to the exact multiplier",
    "area_um2": "cell area (µm²)",
    "delay_ns": "critical-path delay (ns)",
    "energy_per_op_fj": "energy per multiplication (fJ)",
    "gates": "gate count",
    "er": "error rate (fraction of products wrong)",
    "med": "mean error distance (product LSBs)",
    "mred": "mean relative error distance",
    "nmed": "NMED (mean error / largest product)",
    "wce": "worst-case error (product LSBs)",
    "wcre": "worst-case relative error",
    "abs_bias": "|mean signed error| (product LSBs)",
    "error_var": "error variance (product LSBs²)",
    "mse": "mean squared error (product LSBs²)",
    "accuracy_drop": "accuracy drop (percentage points)",
    "accuracy": "accuracy after fine-tune (%)",
}

#: The ``backend`` user attr each back end writes on its trials, by the name a study
#: file gives it (``backend.name``). Legends show the study file's name.
BACKEND_TAGS: dict[str, str] = {
    "nsga2": "pymoo.nsga2",
    "optuna-nsga2": "optuna.nsga2",
    "optuna-nsga3": "optuna.nsga3",
    "tpe": "optuna.tpe",
    "gp": "optuna.gp",
    "random": "optuna.random",
    "tram": "tram",
    "local": "local",
}
_NAME_OF_TAG = {tag: name for name, tag in BACKEND_TAGS.items()}

# region of interest of an accuracy axis (see dse.search._plot), in points
_ROI_MIN = 5.0
_ROI_MARGIN = 1.2
_ROI_BOUND_MARGIN = 1.1
_USEFUL_DROP = 10.0  # dse.search._front's default hypervolume reference for accuracy_drop

# trial values dse stores for a non-finite figure (dse.search._optuna_store.complete_trial)
_NOT_FINITE = 1e12


def axis_label(name: str) -> str:
    """The axis label of metric ``name``, with its unit (the name itself when unknown)."""
    if name in AXIS_LABELS:
        return AXIS_LABELS[name]
    m = METRICS.get(name)
    return f"{name} ({m.unit})" if m is not None and m.unit else name


def backend_label(tag: str) -> str:
    """The study-file name of the back end whose trials carry ``backend: tag``."""
    return _NAME_OF_TAG.get(tag, tag)


def genome_summary(trial: Any, limit: int = 4) -> str:
    """Which genes of ``trial`` depart from the exact design, e.g.
    ``"3 of 23 genes changed: prune.2.3=1, truncate=2, cell.fa.c3.0=ama1"``.

    Read from the trial's Optuna parameters: a gene's exact value is its lowest value
    (the first choice of a choice gene), as in :meth:`dse.search.Space.default_value`.
    """
    from optuna.distributions import CategoricalDistribution

    dists = getattr(trial, "distributions", {}) or {}
    if not dists:
        genome = trial.user_attrs.get("genome")
        try:
            n = len(json.loads(genome)) if isinstance(genome, str) else 0
        except ValueError:
            n = 0
        return f"genome of {n} genes" if n else "no genome recorded"
    changed = []
    for name, dist in dists.items():
        default = dist.choices[0] if isinstance(dist, CategoricalDistribution) else dist.low
        value = trial.params.get(name, default)
        if value != default:
            changed.append(f"{name}={value}")
    if not changed:
        return f"0 of {len(dists)} genes changed (the exact design)"
    head = ", ".join(changed[:limit]) + (", …" if len(changed) > limit else "")
    return f"{len(changed)} of {len(dists)} genes changed: {head}"


@dataclass
class _Point:
    trial: Any
    values: tuple[float, ...]
    backend: str
    feasible: bool
    front: bool


@dataclass
class _Clip:
    """An accuracy axis ends at ``edge``; ``count`` designs lie beyond (up to ``worst``)."""

    axis: int
    edge: float
    upper: bool  # True: designs beyond are above ``edge`` (accuracy drop)
    count: int
    worst: float

    def beyond(self, v: float) -> bool:
        return v > self.edge if self.upper else v < self.edge


@dataclass
class _View:
    """What every renderer draws."""

    name: str
    objectives: list[Objective]
    constraints: list[Constraint]
    points: list[_Point]
    exact: list[float] | None
    exact_figures: dict[str, float]
    backends: list[str]
    clips: dict[int, _Clip]

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def outside(self, p: _Point) -> _Clip | None:
        for c in self.clips.values():
            if c.beyond(p.values[c.axis]):
                return c
        return None

    def shown(self, p: _Point) -> list[float]:
        """``p``'s coordinates with clipped ones moved to the axis edge."""
        out = list(p.values)
        for c in self.clips.values():
            if c.beyond(out[c.axis]):
                out[c.axis] = c.edge
        return out


def _view(study: Any, full: bool) -> _View:
    from optuna.trial import TrialState

    from dse.search._front import pareto_trials
    from dse.search._records import EXACT_ATTR
    from dse.search._summary import stored_config

    cfg = stored_config(study)
    objectives = cfg.parsed_objectives()
    constraints = cfg.parsed_constraints()
    front = {t.number for t in pareto_trials(study)}
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    points = []
    for t in trials:
        if t.values is None or len(t.values) != len(objectives):
            continue
        values = tuple(float(v) for v in t.values)
        if not all(math.isfinite(v) and abs(v) < _NOT_FINITE for v in values):
            continue  # a figure that was not finite cannot be placed
        feasible = all(c <= 0 for c in (t.constraints or {}).values())
        tag = str(t.user_attrs.get("backend", "?"))
        points.append(_Point(t, values, backend_label(tag), feasible, t.number in front))
    exact_figures = {
        k: float(v)
        for k, v in (study.user_attrs.get(EXACT_ATTR) or {}).items()
        if isinstance(v, (int, float))
    }
    exact_acc = _exact_accuracy(trials)
    exact = _exact_values(objectives, exact_figures, exact_acc)
    stage_names = [s.name for s in cfg.stages]
    seen = {p.backend for p in points}
    backends = [b for b in stage_names if b in seen] + sorted(seen - set(stage_names))
    view = _View(
        str(study.study_name), objectives, constraints, points, exact, exact_figures, backends, {}
    )
    if not full:
        for i, o in enumerate(objectives):
            clip = _accuracy_clip(view, i, cfg.hypervolume.reference.get(o.name), exact_acc)
            if clip is not None:
                view.clips[i] = clip
    return view


def _exact_accuracy(trials: Sequence[Any]) -> float | None:
    """The exact-quantised accuracy (%) the study's fine-tunes measured, if they agree.

    Accuracies a back end trained itself (TRAM: ``accuracy_source == "backend"``) are
    left out: they come from other weights.
    """
    seen = set()
    for t in trials:
        if t.user_attrs.get("accuracy_source") == "backend":
            continue
        acc = t.user_attrs.get("accuracy")
        if isinstance(acc, dict) and isinstance(acc.get("acc_exact_q"), (int, float)):
            seen.add(round(100.0 * float(acc["acc_exact_q"]), 9))
    return seen.pop() if len(seen) == 1 else None


def _exact_values(
    objectives: Sequence[Objective], figures: dict[str, float], exact_acc: float | None
) -> list[float] | None:
    """The exact design's objective values, or None when one cannot be placed honestly."""
    out = []
    for o in objectives:
        if o.name == "accuracy_drop":
            v: float | None = 0.0  # drop relative to the exact-quantised network itself
        elif o.name == "accuracy":
            v = exact_acc
        else:
            v = figures.get(o.name)
        if v is None or not math.isfinite(v):
            return None
        out.append(float(v))
    return out


def _accuracy_clip(
    view: _View, axis: int, reference: float | None, exact_acc: float | None
) -> _Clip | None:
    """The region-of-interest rule of :mod:`dse.search._plot` for objective ``axis``."""
    o = view.objectives[axis]
    if o.name not in ("accuracy_drop", "accuracy") or not view.points:
        return None
    values = [p.values[axis] for p in view.points]
    if o.name == "accuracy_drop":
        base = 0.0
        sign = 1.0
        useful = reference if reference is not None else _USEFUL_DROP
    else:  # accuracy (%): measure the drop below the exact (else the best) accuracy
        base = exact_acc if exact_acc is not None else max(values)
        sign = -1.0
        useful = base - reference if reference is not None else _USEFUL_DROP

    def drop(v: float) -> float:
        return sign * (v - base)

    front = [drop(p.values[axis]) for p in view.points if p.front]
    limit = max(_ROI_MIN, _ROI_MARGIN * max((d for d in front if d <= useful), default=0.0))
    for c in view.constraints:
        if c.metric.name == o.name and drop(c.bound) <= useful:
            limit = max(limit, _ROI_BOUND_MARGIN * drop(c.bound))
    beyond = [v for v in values if drop(v) > limit]
    if not beyond:
        return None
    worst = max(beyond) if sign > 0 else min(beyond)
    return _Clip(axis, base + sign * limit, sign > 0, len(beyond), worst)


def _constraint_text(c: Constraint) -> str:
    return f"{c.metric.name} {'≤' if c.op == '<=' else '≥'} {c.bound:g}"


def _infeasible_label(view: _View) -> str:
    if not view.constraints:
        return "infeasible"
    word = "constraint" if len(view.constraints) == 1 else "constraints"
    return f"infeasible ({word} {'; '.join(_constraint_text(c) for c in view.constraints)})"


def _clip_note(view: _View, clip: _Clip) -> str:
    unit = METRICS[view.objectives[clip.axis].name].unit
    s = "" if clip.count == 1 else "s"
    way = "up" if clip.upper else "down"
    return f"{clip.count} design{s} beyond the axis ({way} to {clip.worst:.3g} {unit})"


def _title(view: _View) -> str:
    nfront = sum(p.front for p in view.points)
    return f"{view.name}: {nfront} Pareto designs of {len(view.points)} trials"


def _front_where(view: _View) -> str:
    """Step style of the front's boundary: from each point along the first objective
    until the next point when the first objective is minimised (``post``), else ``pre``."""
    return "post" if view.objectives[0].direction == "minimize" else "pre"
