"""``dse worker``: evaluate a study's queued trials, on any machine that reaches its storage."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

__all__ = ["stopping", "worker_command"]


@contextmanager
def stopping(again: str, storage: str | None) -> Iterator[None]:
    """SIGTERM/SIGINT stop the command cleanly: one line saying how to continue (the
    command ``again``), and the exit code of a process ended by that signal (128 + its
    number)."""
    from dse.search import Stopped, stop_on_signals

    try:
        with stop_on_signals():
            yield
    except Stopped as exc:
        where = f" --storage {storage}" if storage else ""
        click.echo(f"stopped by {exc.args[0]}; '{again}{where}' continues the study", err=True)
        sys.exit(128 + exc.signum)


def _device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    kind, _, index = value.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not index.isdigit()):
        raise click.BadParameter(f"expected cpu, cuda, cuda:N or mps, got {value!r}")
    return value


@click.command("worker")
@click.argument("name")
@click.option("--storage", default=None, help="the study's storage URL (as given to dse run)")
@click.option(
    "--device",
    default=None,
    callback=_device,
    help="this worker's device (cpu, cuda, cuda:N, mps), recorded with it and its trials",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch threads (1)")
@click.option("--trials", type=int, default=None, help="trial budget (default: the study's)")
@click.option("--timeout", type=float, default=None, help="stop after this many seconds")
@click.option("--index", type=int, default=0, hidden=True, help="worker number (set by dse run)")
def worker_command(
    name: str,
    storage: str | None,
    device: str | None,
    threads: int | None,
    trials: int | None,
    timeout: float | None,
    index: int,
) -> None:
    """Evaluate study NAME's queued trials until the study is done.

    Start any number of workers, on any machine that reaches the storage (a
    PostgreSQL server for several machines), while 'dse run' or 'dse resume' drives
    the study; each takes waiting trials, evaluates and records them. SIGTERM or
    Ctrl-C stops a worker at once: its trials in flight are marked failed and queued
    again.
    """
    from dse.search import run_worker

    with stopping(f"dse resume {name}", storage):
        count = run_worker(
            name,
            storage,
            device=device,
            threads=threads,
            trials=trials,
            timeout=timeout,
            worker_index=index,
        )
    click.echo(f"worker done: {count} evaluations in study {name}", err=True)
