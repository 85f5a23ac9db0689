"""The interactive plotly figure of a study (HTML), each design's details on hover."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from dse.errors import ConfigError
from dse.search._objectives import METRICS
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
    genome_summary,
)

__all__ = ["study_plotly"]

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

_PLOTLY_MARKERS = ("circle", "square", "diamond", "cross", "hexagon", "pentagon", "x", "octagon")


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
