"""Figures of a study: its trials, Pareto front, exact design and constraints (``dse plot``).

:func:`plot_study` writes a PNG, SVG or PDF (matplotlib) or an interactive HTML page
(plotly); :func:`study_figure` and :func:`study_plotly` return the figures themselves.
With two objectives a figure shows:

* every COMPLETE trial, coloured by the back end that recorded it and named as the
  study file names it (``nsga2``, ``tpe``, ``tram``, ...; not the ``pymoo.nsga2`` tag
  the trials store, see :data:`BACKEND_TAGS`);
* infeasible trials as grey crosses, labelled with the study's constraints;
* the feasible Pareto front (:func:`dse.search.pareto_trials`, larger markers with a
  black edge) joined as a step line: the boundary of the region it dominates;
* the exact multiplier as a black star ("exact"), when every plotted objective has an
  honest value for it: an accuracy drop of 0 (by definition), the exact-quantised
  accuracy the study's fine-tunes measured (only when they all agree), and the hardware
  figures and error metrics stored in the study (user attr ``dse:exact``);
* each constraint on a plotted objective as a dashed line, its feasible side marked;
* axis labels with units (:func:`axis_label`); a power axis in µW gets a second axis
  relative to the exact multiplier's power (and a ``rel_power`` axis one in µW).

**Region of interest.** A multiplier that makes the network collapse (an accuracy drop
near the exact accuracy minus chance, e.g. 87.5 points) would squash the useful
0–5 points against one edge. Unless ``full=True``, the accuracy axis therefore ends at

    limit = max(5 points, 1.2 × the largest Pareto-front drop ≤ R,
                1.1 × the bound of an accuracy constraint ≤ R)

where ``R`` is the study's hypervolume reference for that objective
(``hypervolume.reference``; 10 points by default, the same "worst useful drop" the
hypervolume indicator uses). Every useful front point therefore stays in view however
far the collapsed ones lie. Designs beyond the limit are drawn as outward-pointing
triangles in a grey strip past the axis edge (their other coordinate kept), and a
legend entry says how many there are and how far they go ("2 designs beyond the axis
(up to 87.5 points)"); the axis is clipped only when some design lies beyond the
limit. For ``accuracy`` (%) the same rule applies to the drop below the exact accuracy
(the best recorded accuracy when the exact one is unknown). The HTML page starts with
the same range and says so in a note; zooming out (double click) shows everything. In
3-D the designs beyond are moved onto the edge and the note is under the plot.

One objective: the value per trial with the best feasible value so far. Three: a 3-D
scatter with the same colours, units, front and exact marker (no constraint planes).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dse.errors import ConfigError, DseError
from dse.search._objectives import METRICS, Constraint, Objective

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "AXIS_LABELS",
    "BACKEND_TAGS",
    "SUFFIXES",
    "axis_label",
    "backend_label",
    "genome_summary",
    "plot_study",
    "study_figure",
    "study_plotly",
]

#: Output suffixes :func:`plot_study` writes.
SUFFIXES = (".png", ".svg", ".pdf", ".html")

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
}
_NAME_OF_TAG = {tag: name for name, tag in BACKEND_TAGS.items()}

# region of interest of an accuracy axis (see the module docstring), in points
_ROI_MIN = 5.0
_ROI_MARGIN = 1.2
_ROI_BOUND_MARGIN = 1.1
_USEFUL_DROP = 10.0  # dse.search._front's default hypervolume reference for accuracy_drop

# trial values dse stores for a non-finite figure (dse.search._storage.finish_trial)
_NOT_FINITE = 1e12

# hardware figures shown on hover (the ``hw`` user attr has a few more)
_HOVER_HW = (
    "power_uw",
    "rel_power",
    "area_um2",
    "delay_ns",
    "energy_per_op_fj",
    "gates",
    "er",
    "nmed",
    "mred",
    "wce",
)

# back-end markers avoid triangles (edge markers of clipped designs) and crosses
# (infeasible designs)
_MARKERS = "osDPhpX8"
_PLOTLY_MARKERS = ("circle", "square", "diamond", "cross", "hexagon", "pentagon", "x", "octagon")
_FEASIBLE_COLOUR = "C3"


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


# ------------------------------------------------------------------ the data
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
    """The region-of-interest rule of the module docstring for objective ``axis``."""
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


# ---------------------------------------------------------------- matplotlib
def study_figure(study: Any, *, full: bool = False) -> Figure:
    """The matplotlib figure of a dse study (see the module docstring).

    Args:
        study: an Optuna study created by dse (it holds ``dse:config``).
        full: show every design instead of clipping the accuracy axis to the region
            of interest.
    """
    view = _view(study, full)
    n = len(view.objectives)
    if n == 1:
        return _figure_1d(view)
    if n == 2:
        return _figure_2d(view)
    if n == 3:
        return _figure_3d(view)
    raise ConfigError(f"dse plot draws studies of 1 to 3 objectives; {view.name} has {n}")


def _new_figure(size: tuple[float, float] = (7.5, 4.6), **kw: Any) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    # a bare Figure (no pyplot): nothing global changes and no GUI backend is needed
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot(**kw)


def _style(view: _View, backend: str) -> tuple[str, str]:
    k = view.backends.index(backend) if backend in view.backends else len(view.backends)
    return _MARKERS[k % len(_MARKERS)], f"C{k % 10}"


def _figure_2d(view: _View) -> Figure:
    fig, ax = _new_figure()
    inside = [p for p in view.points if view.outside(p) is None]
    bad = [p for p in inside if not p.feasible]
    if bad:
        ax.scatter(
            [p.values[0] for p in bad],
            [p.values[1] for p in bad],
            marker="x",
            c="0.6",
            s=16,
            linewidths=0.8,
            label=_infeasible_label(view),
            zorder=2,
        )
    for b in view.backends:
        marker, colour = _style(view, b)
        pts = [p for p in inside if p.feasible and p.backend == b]
        rest = [p for p in pts if not p.front]
        on = [p for p in pts if p.front]
        if rest:
            ax.scatter(
                [p.values[0] for p in rest],
                [p.values[1] for p in rest],
                s=18,
                alpha=0.5,
                marker=marker,
                color=colour,
                linewidths=0,
                label=b,
                zorder=3,
            )
        if on:  # the front's own designs: larger, black edge, same colour as the back end
            ax.scatter(
                [p.values[0] for p in on],
                [p.values[1] for p in on],
                s=48,
                marker=marker,
                color=colour,
                edgecolors="k",
                linewidths=0.8,
                label=b if not rest else None,
                zorder=5,
            )
    front = sorted(p.values for p in view.points if p.front)
    if front:
        ax.step(
            [v[0] for v in front],
            [v[1] for v in front],
            where=_front_where(view),
            color="k",
            lw=1.0,
            label=f"Pareto front ({len(front)})",
            zorder=4,
        )
    if view.exact is not None:
        ax.scatter(
            [view.exact[0]],
            [view.exact[1]],
            marker="*",
            s=220,
            color="gold",
            edgecolors="k",
            linewidths=0.9,
            label="exact",
            zorder=7,
        )
    _draw_clipped(ax, view, (0, 1))  # first: it sets the clipped axis's range
    _draw_constraints(ax, view)
    ax.set_xlabel(axis_label(view.names[0]))
    ax.set_ylabel(axis_label(view.names[1]))
    _secondary_power(ax, view, (0, 1))
    ax.set_title(_title(view), fontsize=10)
    ax.grid(True, lw=0.4, alpha=0.4)
    _legend(fig)
    return fig


def _legend(fig: Figure) -> None:
    """One legend under the axes: the plot keeps the figure's full width."""
    labels = fig.axes[0].get_legend_handles_labels()[1]
    # as many columns as fit the figure's width at this font size (about 50 characters
    # per column in two, 28 in three)
    longest = max((len(t) for t in labels), default=0)
    ncols = 3 if longest <= 28 else 2 if longest <= 48 else 1
    legend = fig.legend(
        loc="outside lower center", ncols=min(ncols, max(len(labels), 1)), fontsize=8, frameon=False
    )
    for handle in legend.legend_handles:  # faint points, but a legend that reads
        if handle is not None:
            handle.set_alpha(1.0)


def _draw_constraints(ax: Axes, view: _View, axes: Sequence[int] = (0, 1)) -> None:
    """A dashed line per constraint on a plotted objective, its feasible side marked.

    ``axes``: the objective on the x and on the y axis (-1: the trial number).
    """
    for c in view.constraints:
        if c.metric.name not in view.names:
            continue
        i = view.names.index(c.metric.name)
        if i not in axes:
            continue
        clip = view.clips.get(i)
        if clip is not None and clip.beyond(c.bound):
            continue  # past the clipped axis: nothing to draw inside it
        horizontal = axes.index(i) == 1
        style: dict[str, Any] = {"ls": "--", "lw": 1.1, "color": _FEASIBLE_COLOUR, "zorder": 1}
        (ax.axhline if horizontal else ax.axvline)(c.bound, label=_constraint_text(c), **style)
        # the label sits on the feasible side, its arrow pointing into it; when the line is
        # too close to that side's edge for the text, it moves across (the arrow still
        # points to the feasible side)
        lo, hi = ax.get_ylim() if horizontal else ax.get_xlim()
        frac = (c.bound - lo) / (hi - lo) if hi > lo else 0.5
        low_side = c.op == "<="
        room = frac > 0.15 if low_side else frac < 0.85
        text_low = low_side == room  # the text goes on the low-value side of the line
        arrow = ("↓" if low_side else "↑") if horizontal else ("←" if low_side else "→")
        label = f"feasible {arrow}" if horizontal or not low_side else f"{arrow} feasible"
        if horizontal:
            ax.annotate(
                label,
                xy=(0.99, c.bound),
                xycoords=ax.get_yaxis_transform(),
                xytext=(0, -3 if text_low else 3),
                textcoords="offset points",
                ha="right",
                va="top" if text_low else "bottom",
                color=_FEASIBLE_COLOUR,
                fontsize=8,
            )
        else:
            ax.annotate(
                label,
                xy=(c.bound, 0.98),
                xycoords=ax.get_xaxis_transform(),
                xytext=(-3 if text_low else 3, 0),
                textcoords="offset points",
                ha="right" if text_low else "left",
                va="top",
                color=_FEASIBLE_COLOUR,
                fontsize=8,
            )


def _draw_clipped(ax: Axes, view: _View, axes: Sequence[int]) -> None:
    """Set a clipped axis's range and draw the designs beyond it in a grey strip past its
    edge, with a legend entry saying how many there are and how far they go.

    ``axes``: the objective on the x and on the y axis (-1: the trial number).
    """
    for clip in view.clips.values():
        if clip.axis not in axes:
            continue
        horizontal = axes.index(clip.axis) == 0  # the clipped axis is the x axis
        visible = [p.values[clip.axis] for p in view.points if view.outside(p) is None]
        if view.exact is not None:
            visible.append(view.exact[clip.axis])
        far = min(visible, default=clip.edge) if clip.upper else max(visible, default=clip.edge)
        span = abs(clip.edge - far) or 1.0
        pad, strip = 0.04 * span, 0.05 * span
        step = strip if clip.upper else -strip
        lims = sorted((far - (pad if clip.upper else -pad), clip.edge + step))
        (ax.set_xlim if horizontal else ax.set_ylim)(*lims)
        # the strip past the edge holds the designs beyond it (their own colours)
        (ax.axvspan if horizontal else ax.axhspan)(
            clip.edge, clip.edge + step, color="0.92", lw=0, zorder=0
        )
        marker = (">" if clip.upper else "<") if horizontal else ("^" if clip.upper else "v")
        out = [p for p in view.points if view.outside(p) is clip]
        for p in out:
            shown = [*view.shown(p), float(p.trial.number)]  # index -1: the trial number
            shown[clip.axis] = clip.edge + step / 2
            ax.scatter(
                [shown[axes[0]]],
                [shown[axes[1]]],
                marker=marker,
                s=40 if p.front else 28,
                color=_style(view, p.backend)[1] if p.feasible else "0.55",
                edgecolors="k" if p.front else "none",
                linewidths=0.7,
                zorder=6,
            )
        ax.plot([], [], ls="none", marker=marker, color="0.45", label=_clip_note(view, clip))


def _secondary_power(ax: Axes, view: _View, axes: Sequence[int]) -> None:
    """Power in µW and relative to the exact multiplier on opposite sides of one axis."""
    p0 = view.exact_figures.get("power_uw")
    if not p0 or p0 <= 0 or not math.isfinite(p0):
        return
    for k, i in enumerate(axes):
        if i < 0:
            continue  # the trial-number axis
        name = view.names[i]
        if name == "power_uw":
            fns: tuple[Callable[[Any], Any], Callable[[Any], Any]] = (
                lambda v: v / p0,
                lambda r: r * p0,
            )
            label = "power relative to the exact multiplier"
        elif name == "rel_power":
            fns = (lambda r: r * p0, lambda v: v / p0)
            label = "power (µW)"
        else:
            continue
        if k == 0:
            ax.secondary_xaxis("top", functions=fns).set_xlabel(label)
        else:
            ax.secondary_yaxis("right", functions=fns).set_ylabel(label)


def _figure_1d(view: _View) -> Figure:
    fig, ax = _new_figure()
    o = view.objectives[0]
    inside = [p for p in view.points if view.outside(p) is None]
    bad = [p for p in inside if not p.feasible]
    if bad:
        ax.scatter(
            [p.trial.number for p in bad],
            [p.values[0] for p in bad],
            marker="x",
            c="0.6",
            s=16,
            label=_infeasible_label(view),
        )
    for b in view.backends:
        marker, colour = _style(view, b)
        pts = [p for p in inside if p.feasible and p.backend == b]
        if pts:
            ax.scatter(
                [p.trial.number for p in pts],
                [p.values[0] for p in pts],
                s=18,
                alpha=0.6,
                marker=marker,
                color=colour,
                label=b,
            )
    best: list[tuple[int, float]] = []
    sign = 1.0 if o.direction == "minimize" else -1.0
    for p in sorted(view.points, key=lambda p: p.trial.number):
        if p.feasible and (not best or sign * p.values[0] < sign * best[-1][1]):
            best.append((p.trial.number, p.values[0]))
    if best:
        last = max(p.trial.number for p in view.points)
        xs = [n for n, _ in best] + [last]
        ys = [v for _, v in best] + [best[-1][1]]
        ax.step(xs, ys, where="post", color="k", lw=1.0, label="best feasible so far")
    if view.exact is not None:
        ax.axhline(view.exact[0], ls=":", color="k", lw=1.0, label="exact")
    _draw_clipped(ax, view, axes=(-1, 0))
    _draw_constraints(ax, view, axes=(-1, 0))
    ax.set_xlabel("trial number")
    ax.set_ylabel(axis_label(o.name))
    _secondary_power(ax, view, axes=(-1, 0))
    ax.set_title(f"{view.name}: {len(view.points)} trials", fontsize=10)
    ax.grid(True, lw=0.4, alpha=0.4)
    _legend(fig)
    return fig


def _figure_3d(view: _View) -> Figure:
    fig, ax = _new_figure((8.0, 6.0), projection="3d")

    def xyz(pts: Sequence[_Point]) -> tuple[list[float], list[float], list[float]]:
        shown = [view.shown(p) for p in pts]
        return [s[0] for s in shown], [s[1] for s in shown], [s[2] for s in shown]

    bad = [p for p in view.points if not p.feasible]
    if bad:
        ax.scatter(*xyz(bad), marker="x", c="0.6", s=14, label=_infeasible_label(view))
    for b in view.backends:
        marker, colour = _style(view, b)
        pts = [p for p in view.points if p.feasible and p.backend == b]
        rest = [p for p in pts if not p.front]
        on = [p for p in pts if p.front]
        if rest:
            ax.scatter(*xyz(rest), s=14, alpha=0.45, marker=marker, color=colour, label=b)
        if on:
            ax.scatter(
                *xyz(on),
                s=40,
                marker=marker,
                color=colour,
                edgecolors="k",
                label=f"{b} (Pareto)",
            )
    if view.exact is not None:
        ax.scatter(
            [view.exact[0]],
            [view.exact[1]],
            [view.exact[2]],
            marker="*",
            s=200,
            color="gold",
            edgecolors="k",
            label="exact",
        )
    for i, setter in enumerate((ax.set_xlabel, ax.set_ylabel, ax.set_zlabel)):
        setter(axis_label(view.names[i]))
    notes = []
    for clip in view.clips.values():
        # 3-D axes do not clip markers: clipped designs were moved onto the edge above
        lim = [ax.set_xlim, ax.set_ylim, ax.set_zlim][clip.axis]
        current = [ax.get_xlim, ax.get_ylim, ax.get_zlim][clip.axis]()
        lim(*((current[0], clip.edge) if clip.upper else (clip.edge, current[1])))
        notes.append(_clip_note(view, clip))
    if notes:
        fig.text(0.01, 0.01, "\n".join(notes), fontsize=8, color="0.25")
    ax.set_title(_title(view), fontsize=10)
    _legend(fig)
    return fig


# -------------------------------------------------------------------- plotly
def _hover(view: _View, p: _Point) -> str:
    """Hover text of one design (plotly's HTML subset; free text escaped)."""
    t = p.trial
    head = f"<b>trial {t.number}</b> · back end {html.escape(p.backend)}"
    if p.front:
        head += " · Pareto"
    lines = [head]
    if not p.feasible:
        reason = t.user_attrs.get("infeasible_reason") or _infeasible_label(view)
        lines.append("infeasible: " + html.escape(str(reason)))
    lines.append("genome: " + html.escape(genome_summary(t)))
    lines.append("structural hash: " + html.escape(str(t.user_attrs.get("structural_hash", "?"))))
    for o, v in zip(view.objectives, p.values, strict=True):
        unit = METRICS[o.name].unit
        lines.append(f"{o.name}: {v:.6g}" + (f" {unit}" if unit else ""))
    hw = t.user_attrs.get("hw") or {}
    figures = [f"{k}={hw[k]:.4g}" for k in _HOVER_HW if isinstance(hw.get(k), (int, float))]
    if figures:
        lines.append("hw: " + ", ".join(figures[:5]))
        if figures[5:]:
            lines.append("    " + ", ".join(figures[5:]))
    acc = t.user_attrs.get("accuracy")
    if isinstance(acc, dict) and "acc_axm_after" in acc:
        lines.append(
            f"accuracy: {100 * acc['acc_axm_after']:.2f} % after fine-tune "
            f"(exact-quantised {100 * acc.get('acc_exact_q', float('nan')):.2f} %)"
        )
    return "<br>".join(lines)


def study_plotly(study: Any, *, full: bool = False) -> Any:
    """The interactive plotly figure of a dse study (same content as :func:`study_figure`,
    with each design's details on hover; power relative to exact is in the hover text)."""
    import plotly.graph_objects as go

    view = _view(study, full)
    n = len(view.objectives)
    if not 1 <= n <= 3:
        raise ConfigError(f"dse plot draws studies of 1 to 3 objectives; {view.name} has {n}")
    fig = go.Figure()
    three = n == 3

    def coords(pts: Sequence[_Point]) -> dict[str, list[float]]:
        if n == 1:
            return {"x": [p.trial.number for p in pts], "y": [p.values[0] for p in pts]}
        keys = ("x", "y", "z")
        return {keys[i]: [p.values[i] for p in pts] for i in range(n)}

    trace = go.Scatter3d if three else go.Scatter
    bad = [p for p in view.points if not p.feasible]
    if bad:
        fig.add_trace(
            trace(
                **coords(bad),
                mode="markers",
                name=_infeasible_label(view),
                marker={"symbol": "x", "color": "#999999", "size": 5 if three else 7},
                text=[_hover(view, p) for p in bad],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]  # fmt: skip
    for k, b in enumerate(view.backends):
        pts = [p for p in view.points if p.feasible and p.backend == b]
        if not pts:
            continue
        symbol = _PLOTLY_MARKERS[k % len(_PLOTLY_MARKERS)]
        if three:
            symbol = ("circle", "square", "diamond", "cross")[k % 4]  # what Scatter3d draws
        fig.add_trace(
            trace(
                **coords(pts),
                mode="markers",
                name=b,
                marker={
                    "symbol": symbol,
                    "color": palette[k % len(palette)],
                    "size": [
                        (8 if p.front else 5) if three else (11 if p.front else 7) for p in pts
                    ],
                    "opacity": 0.8,
                    # Scatter3d takes one edge width per trace: there, size marks the front
                    "line": {
                        "color": "black",
                        "width": 0 if three else [1.5 if p.front else 0 for p in pts],
                    },
                },
                text=[_hover(view, p) for p in pts],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    if n == 2:
        front = sorted(p.values for p in view.points if p.front)
        if front:
            fig.add_trace(
                go.Scatter(
                    x=[v[0] for v in front],
                    y=[v[1] for v in front],
                    mode="lines",
                    line={"color": "black", "width": 1.2,
                          "shape": "hv" if _front_where(view) == "post" else "vh"},
                    name=f"Pareto front ({len(front)})",
                    hoverinfo="skip",
                )
            )  # fmt: skip
    if view.exact is not None:
        ex = view.exact_figures
        text = "<b>exact</b> multiplier<br>" + "<br>".join(
            f"{o.name}: {v:.6g}" for o, v in zip(view.objectives, view.exact, strict=True)
        )
        if "power_uw" in ex:
            text += (
                f"<br>power: {ex['power_uw']:.4g} µW, area {ex.get('area_um2', math.nan):.4g} µm²"
            )
        if n == 1:
            fig.add_hline(y=view.exact[0], line={"dash": "dot", "color": "black"})
        exact_coords = (
            {"x": [0], "y": view.exact}
            if n == 1
            else {k: [v] for k, v in zip(("x", "y", "z"), view.exact, strict=False)}
        )
        fig.add_trace(
            trace(
                **exact_coords,
                mode="markers",
                name="exact",
                marker={"symbol": "diamond" if three else "star", "size": 10 if three else 18,
                        "color": "gold", "line": {"color": "black", "width": 1}},
                text=[text],
                hovertemplate="%{text}<extra></extra>",
            )
        )  # fmt: skip
    axes_of = {0: "x", 1: "y"} if n == 2 else {0: "y"}
    if not three:
        for c in view.constraints:
            if c.metric.name not in view.names:
                continue
            i = view.names.index(c.metric.name)
            side = "feasible ←" if c.op == "<=" else "feasible →"
            if axes_of.get(i) == "y":
                side = "feasible ↓" if c.op == "<=" else "feasible ↑"
                fig.add_hline(
                    y=c.bound, line={"dash": "dash", "color": "#d62728"},
                    annotation_text=f"{_constraint_text(c)} ({side})",
                    annotation_position="bottom right" if c.op == "<=" else "top right",
                )  # fmt: skip
            else:
                fig.add_vline(
                    x=c.bound, line={"dash": "dash", "color": "#d62728"},
                    annotation_text=f"{_constraint_text(c)} ({side})",
                    annotation_position="top left" if c.op == "<=" else "top right",
                )  # fmt: skip
    notes = []
    for clip in view.clips.values():
        vals = [p.values[clip.axis] for p in view.points if view.outside(p) is None]
        if view.exact is not None:
            vals.append(view.exact[clip.axis])
        far = min(vals, default=clip.edge) if clip.upper else max(vals, default=clip.edge)
        pad = 0.04 * abs(clip.edge - far) or 0.1
        rng = [far - pad, clip.edge + pad] if clip.upper else [clip.edge - pad, far + pad]
        if three:
            fig.update_layout(scene={f"{'xyz'[clip.axis]}axis": {"range": rng}})
        elif axes_of.get(clip.axis) == "x":
            fig.update_xaxes(range=rng)
        else:
            fig.update_yaxes(range=rng)
        notes.append(_clip_note(view, clip).replace("--full shows all", "double-click shows all"))
    if notes:
        fig.add_annotation(
            text="<br>".join(notes), xref="paper", yref="paper", x=1, y=0, showarrow=False,
            xanchor="right", yanchor="bottom", font={"size": 11, "color": "#444"},
            bgcolor="rgba(255,255,255,0.8)",
        )  # fmt: skip
    labels = (
        ["trial number", axis_label(view.names[0])]
        if n == 1
        else [axis_label(name) for name in view.names]
    )
    if three:
        fig.update_layout(
            scene={"xaxis_title": labels[0], "yaxis_title": labels[1], "zaxis_title": labels[2]}
        )
    else:
        fig.update_xaxes(title_text=labels[0])
        fig.update_yaxes(title_text=labels[1])
    fig.update_layout(
        title=_title(view) if n > 1 else f"{view.name}: {len(view.points)} trials",
        template="plotly_white", legend={"font": {"size": 11}},
        hoverlabel={"align": "left"},
    )  # fmt: skip
    return fig


# --------------------------------------------------------------------- write
def plot_study(study: Any, output: str | Path, *, full: bool = False) -> Path:
    """Write the figure of a dse study to ``output`` and return its path.

    The suffix picks the format: ``.png`` (200 dpi), ``.svg`` or ``.pdf`` (matplotlib,
    :func:`study_figure`) or ``.html`` (plotly, :func:`study_plotly`, with each design's
    trial number, back end, genome summary, structural hash and figures on hover).
    Missing parent folders are created.

    Args:
        study: an Optuna study created by dse.
        output: the file to write.
        full: show every design instead of clipping the accuracy axis to the region of
            interest (see the module docstring for the rule).

    Raises:
        ConfigError: an unknown suffix, or a study with more than 3 objectives.
        DseError: ``output`` cannot be written (``cannot write PATH: reason``).
    """
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"-o {path}: expected a .png, .svg, .pdf or .html file")
    if suffix == ".html":
        pfig = study_plotly(study, full=full)
        _write(path, lambda p: pfig.write_html(str(p)))
    else:
        mfig = study_figure(study, full=full)
        _write(path, lambda p: mfig.savefig(p, dpi=200))
    return path


def _write(path: Path, write: Callable[[Path], None]) -> None:
    """Create ``path``'s folder and write it; an OS error becomes one line, not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        raise DseError(f"cannot write {path}: {exc.strerror or exc}") from None
