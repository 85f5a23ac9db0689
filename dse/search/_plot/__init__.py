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

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dse.errors import ConfigError, DseError
from dse.search._plot._matplotlib import study_figure
from dse.search._plot._plotly import study_plotly
from dse.search._plot._view import (
    AXIS_LABELS,
    BACKEND_TAGS,
    axis_label,
    backend_label,
    genome_summary,
)

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
            interest (see the package docstring for the rule).

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
