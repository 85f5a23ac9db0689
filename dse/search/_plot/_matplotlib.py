"""The matplotlib figure of a study (PNG, SVG, PDF)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dse.errors import ConfigError
from dse.search._plot._view import (
    _clip_note,
    _constraint_text,
    _front_where,
    _infeasible_label,
    _Point,
    _title,
    _View,
    _view,
    axis_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["study_figure"]

# back-end markers avoid triangles (edge markers of clipped designs) and crosses
# (infeasible designs)
_MARKERS = "osDPhpX8"
_FEASIBLE_COLOUR = "C3"


def study_figure(study: Any, *, full: bool = False) -> Figure:
    """The matplotlib figure of a dse study (see :mod:`dse.search._plot`).

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
