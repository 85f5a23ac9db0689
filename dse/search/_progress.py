"""Progress of a running study: a live bar on a terminal, plain lines elsewhere.

Both show the trials already in the storage from the first moment (a resumed study
starts at its count, not at 0), the feasible count, the front's size and hypervolume,
the time elapsed and an estimate of the time left. The estimate is the trials still
to run at this run's own rate (trials recorded per second since it started), capped by
the time limit when that comes first; it is blank until this run has recorded a trial.

When output is not a terminal (a log file, CI, ``nohup``) a bar would print nothing
useful until the end, so one line is written every ``every`` trials (about 20 lines
for the whole budget) and at least once a minute.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["RunProgress", "format_duration"]

Mode = Literal["bar", "lines", "off"]

_LINE_EVERY_S = 60.0


def format_duration(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration in seconds."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunProgress:
    """Reports a study's progress while its session runs.

    Args:
        summarize: returns the study's current :class:`~dse.search.StudySummary`.
        total: the trial budget (``None``: none, only a time limit).
        deadline: ``time.monotonic()`` value at which the time limit stops the run.
        mode: ``bar`` (rich, on a terminal), ``lines`` (plain lines) or ``off``.
        write: where plain lines go (default: stderr).
    """

    def __init__(
        self,
        summarize: Callable[[], Any],
        *,
        total: int | None,
        deadline: float | None,
        mode: Mode,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.summarize = summarize
        self.total = total
        self.deadline = deadline
        self.mode = mode
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.start = time.monotonic()
        self.done_at_start: int | None = None
        self._last_update = -1e9
        self._last_line_time = self.start
        self._last_line_count = -1
        self._bar: Any = None
        self._task: Any = None
        self.every = max(1, (total or 200) // 20)

    # ----------------------------------------------------------------- pieces
    def eta(self, complete: int, now: float | None = None) -> tuple[float | None, bool]:
        """``(seconds left, limited_by_time)``; ``None`` while this run has no rate."""
        now = time.monotonic() if now is None else now
        time_left = None if self.deadline is None else max(0.0, self.deadline - now)
        done_here = complete - (self.done_at_start or 0)
        by_trials = None
        if self.total is not None and done_here > 0:
            rate = done_here / max(1e-9, now - self.start)
            by_trials = max(0, self.total - complete) / rate
        if by_trials is None:
            return None, False
        if time_left is not None and time_left < by_trials:
            return time_left, True
        return by_trials, False

    def _fields(self, s: Any, now: float) -> dict[str, str]:
        eta, by_time = self.eta(s.complete, now)
        eta_text = (
            "-" if eta is None else format_duration(eta) + (" (time limit)" if by_time else "")
        )
        return {
            "name": s.name,
            "feasible": str(s.feasible),
            "front": str(s.front_size),
            "hv": f"{s.hypervolume:.4f}" if s.hypervolume is not None else "-",
            "eta": eta_text,
        }

    def line(self, s: Any, now: float | None = None) -> str:
        """One plain progress line for the summary ``s``."""
        now = time.monotonic() if now is None else now
        f = self._fields(s, now)
        budget = f"/{self.total}" if self.total is not None else ""
        here = s.complete - (self.done_at_start or 0)
        return (
            f"{f['name']}: {s.complete}{budget} trials ({here} this run), {f['feasible']} "
            f"feasible, front {f['front']}, HV {f['hv']}, "
            f"{format_duration(now - self.start)} elapsed, ETA {f['eta']}"
        )

    # --------------------------------------------------------------- life cycle
    def begin(self) -> None:
        """Show the state before the first evaluation (a resumed study's count)."""
        if self.mode == "off":
            return
        s = self.summarize()
        self.done_at_start = s.complete
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.fields[name]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "feasible {task.fields[feasible]}  front {task.fields[front]}  "
                    "HV {task.fields[hv]}"
                ),
                TimeElapsedColumn(),
                TextColumn("ETA {task.fields[eta]}"),
                transient=False,
            )
            self._task = self._bar.add_task(
                "study", total=self.total, completed=s.complete, **self._fields(s, self.start)
            )
            self._bar.start()
        else:
            budget = f" of {self.total}" if self.total is not None else ""
            self.write(f"{s.name}: {s.complete} trials{budget} recorded; running ...")
            self._last_line_count = s.complete

    def update(self, force: bool = False) -> None:
        """Refresh (at most once a second unless ``force``)."""
        if self.mode == "off":
            return
        now = time.monotonic()
        if not force and now - self._last_update < 1.0:
            return
        self._last_update = now
        s = self.summarize()
        if self.mode == "bar":
            self._bar.update(self._task, completed=s.complete, **self._fields(s, now))
            return
        due = (
            s.complete - self._last_line_count >= self.every
            or now - self._last_line_time >= _LINE_EVERY_S
        )
        if (due or force) and s.complete != self._last_line_count:
            self.write(self.line(s, now))
            self._last_line_count = s.complete
            self._last_line_time = now

    def end(self) -> None:
        """Final refresh; stops the bar."""
        if self.mode == "off":
            return
        self.update(force=True)
        if self._bar is not None:
            self._bar.stop()
