"""Study subcommands: ``dse run``, ``resume``, ``status``, ``pareto`` and ``plot`` (the study
form of ``dse export`` is in :mod:`dse.cli._export`).

A study's name is its ``name:`` field, else the study file's stem. Without
``--storage`` the storage is ``sqlite:///dse-studies.db`` in the working directory
(or the study file's ``storage.url`` for ``dse run``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "pareto_command",
    "plot_command",
    "resume_command",
    "run_command",
    "status_command",
]

_STORAGE_HELP = "study storage URL (default: sqlite:///dse-studies.db in the working directory)"


def _print_summary(s: Any, storage: str | None = None) -> None:
    hv = f"{s.hypervolume:.6f}" if s.hypervolume is not None else "-"
    gen = f", generation {s.generation}" if s.generation is not None else ""
    budget = f"/{s.budget}" if s.budget else ""
    click.echo(
        f"study {s.name} ({s.backend}): {s.complete}{budget} complete, {s.feasible} feasible, "
        f"{s.failed} failed, {s.running} running, {s.waiting} waiting; front {s.front_size}, "
        f"hypervolume {hv}{gen}"
    )
    for w in getattr(s, "workers", None) or []:
        click.echo(
            f"  worker {w.get('host')}:{w.get('pid')} on {w.get('device')}: {w.get('state')}, "
            f"seen {w.get('seen_s_ago', 0):g} s ago"
        )
    if getattr(s, "stop_reason", None) == "timeout":
        where = f" --storage {storage}" if storage else ""
        left = f" of {s.budget} trials" if s.budget else ""
        click.echo(
            f"stopped by the time limit ({s.timeout:g} s) at {s.complete}{left}; continue with: "
            f"dse resume {s.name}{where}  (each run gets {s.timeout:g} s; --timeout 0 for no "
            f"limit)",
            err=True,
        )


def _session_options(trials_help: str) -> Callable[[F], F]:
    """``--storage/--trials/--timeout/--workers/--progress``, shared by run and resume."""

    def decorate(fn: F) -> F:
        options = [
            click.option("--storage", default=None, help=_STORAGE_HELP),
            click.option("--trials", type=int, default=None, help=trials_help),
            click.option(
                "--timeout", type=float, default=None, help="stop after this many seconds"
            ),
            click.option(
                "--workers",
                type=int,
                default=1,
                show_default=True,
                help="worker processes on the storage",
            ),
            click.option(
                "--threads",
                type=click.IntRange(min=1),
                default=None,
                help="torch threads per process for fine-tunes (default: the cores other "
                "programs leave free, by the load average; one per worker with --workers > 1)",
            ),
            click.option(
                "--device",
                default=None,
                help="torch device of the fine-tunes: auto, cpu, cuda or cuda:N "
                "(default: the study file's device:)",
            ),
            click.option(
                "--progress/--no-progress",
                default=None,
                help="progress bar with ETA (default: a bar on a terminal, one line per "
                "~5 %% of the budget or per minute otherwise)",
            ),
        ]
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return decorate


def _session(
    fn: Callable[..., Any],
    target: Any,
    storage: str | None,
    trials: int | None,
    timeout: float | None,
    workers: int,
    threads: int | None,
    progress: bool | None,
    device: str | None = None,
    devices: str | None = None,
) -> None:
    """``run``/``resume`` with the shared session options, then the summary line."""
    from dse.cli._common import note_first_compile

    note_first_compile()
    if threads is None and workers == 1:
        threads = _free_cores()
    if progress is None:  # a bar on a terminal, plain lines in a log or a pipe
        mode = "bar" if sys.stderr.isatty() else "lines"
    else:
        mode = "bar" if progress else "off"
    from dse.cli._worker import stopping

    again = f"dse run {target}" if fn.__name__ == "run" else f"dse resume {target}"
    with stopping(again, storage):
        summary = fn(
            target,
            storage=storage,
            trials=trials,
            timeout=timeout,
            workers=workers,
            threads=threads,
            progress=mode,
            device=device,
            devices=devices,
        )
    _print_summary(summary, storage)


def _busy_cores(sample_s: float = 0.3) -> float | None:
    """How many cores other programs keep busy now (this process sleeps meanwhile):
    from two reads of ``/proc/stat`` ``sample_s`` apart on Linux, else the one-minute
    load average, else ``None``."""

    def jiffies() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    first = jiffies()
    if first is not None:
        time.sleep(sample_s)
        second = jiffies()
        if second is not None and second[0] > first[0]:
            total, idle = second[0] - first[0], second[1] - first[1]
            cores = os.cpu_count() or 1
            return cores * (total - idle) / total
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _free_cores() -> int | None:
    """Torch threads for a one-process run: the cores other programs leave free.

    torch's threads spin while they wait for each other, so two threads on two cores
    where another program keeps one busy run a fine-tune several times slower than one
    thread does (measured on the quickstart's network: 2.0 s against 0.46 s per
    fine-tune of an affine table). ``None``: all cores are free (torch's default).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not cores or cores < 2:
        return None
    busy = _busy_cores()
    if busy is None:
        return None
    free = max(1, min(cores, int(cores - busy + 0.5)))
    if free >= cores:
        return None
    from dse._status import note

    note(
        "other programs keep about %.1f of %d cores busy: fine-tunes use %d torch thread%s "
        "(--threads N to choose)",
        busy,
        cores,
        free,
        "" if free == 1 else "s",
    )
    return free


@click.command("run")
@click.argument("study_file", type=click.Path(path_type=Path))
@_session_options("trial budget (total COMPLETE trials; default: the study file's)")
@click.option(
    "--devices",
    default=None,
    help="one torch device per worker process, round robin (e.g. cuda:0,cuda:1)",
)
def run_command(
    study_file: Path,
    storage: str | None,
    trials: int | None,
    timeout: float | None,
    workers: int,
    threads: int | None,
    device: str | None,
    progress: bool | None,
    devices: str | None,
) -> None:
    """Run the study described by STUDY_FILE (continues it if it is already in the storage)."""
    from dse.search import run

    _session(run, study_file, storage, trials, timeout, workers, threads, progress, device, devices)


@click.command("resume")
@click.argument("name")
@_session_options("new total trial budget (default: the stored one)")
def resume_command(
    name: str,
    storage: str | None,
    trials: int | None,
    timeout: float | None,
    workers: int,
    threads: int | None,
    device: str | None,
    progress: bool | None,
) -> None:
    """Continue study NAME from its storage: same back end, settings, seed and generation."""
    from dse.search import resume

    _session(resume, name, storage, trials, timeout, workers, threads, progress, device)


def _load(name: str, storage: str | None) -> Any:
    from dse.search import load_stored_study

    return load_stored_study(name, storage)


@click.command("status")
@click.argument("name", required=False)
@click.option("--storage", default=None, help=_STORAGE_HELP)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status_command(name: str | None, storage: str | None, fmt: str) -> None:
    """Progress of study NAME, or of every study in the storage."""
    from dse.search import study_summaries, study_summary

    summaries = [study_summary(_load(name, storage))] if name else study_summaries(storage)
    if fmt == "json":
        click.echo(json.dumps([s.to_dict() for s in summaries], indent=1))
        return
    if not summaries:
        click.echo("no studies")
    for s in summaries:
        _print_summary(s)


@click.command("pareto")
@click.argument("name")
@click.option("--storage", default=None, help=_STORAGE_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def pareto_command(name: str, storage: str | None, fmt: str) -> None:
    """The Pareto front (feasible, non-dominated trials) of study NAME."""
    from dse.search import pareto_rows

    rows = pareto_rows(_load(name, storage))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    cols = list(rows[0]) if rows else ["trial", "backend", "structural_hash"]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Pareto front of {name} ({len(rows)} designs)")
    for c in cols:
        table.add_column(c, justify="right" if c not in ("backend", "structural_hash") else "left")
    for r in rows:
        table.add_row(
            *[
                (f"{v:.6g}" if isinstance(v, float) else str(v)[:16])
                for v in (r.get(c, "") for c in cols)
            ]
        )
    Console(width=160).print(table)


@click.command("plot")
@click.argument("name")
@click.option("--storage", default=None, help=_STORAGE_HELP)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="front.png, .svg, .pdf (matplotlib) or front.html (interactive, plotly)",
)
@click.option(
    "--full",
    is_flag=True,
    help="show every design (by default the accuracy axis stops short of collapsed networks)",
)
def plot_command(name: str, storage: str | None, output: Path, full: bool) -> None:
    """Plot the trials, Pareto front, exact design and constraints of study NAME.

    Two objectives: a scatter with the front as a step line; one: value per trial;
    three: 3-D. See dse.search.plot_study for what is drawn and the clipping rule.
    """
    from dse.search import plot_study

    click.echo(f"wrote {plot_study(_load(name, storage), output, full=full)}")
